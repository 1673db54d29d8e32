using Bazaar.Hosting;

namespace Bazaar.Dashboard.Components.Shared;

public enum EdgeKind { Reference, Wait, Parent }

public readonly record struct NodePosition(int X, int Y);

/// <summary>A layered layout of the model: a resource's column is one more than the deepest of its dependencies'.</summary>
public sealed record GraphLayout(IReadOnlyDictionary<string, NodePosition> Positions, IReadOnlyList<(string From, string To, EdgeKind Kind)> Edges)
{
    public int Columns => Positions.Count == 0 ? 0 : Positions.Values.Select(p => p.X).Distinct().Count();
    public int Rows { get; init; }

    public static GraphLayout Of(DistributedApplicationModel model, int nodeWidth, int nodeHeight, int columnGap, int rowGap, int margin)
    {
        var edges = new List<(string From, string To, EdgeKind Kind)>();
        foreach (var resource in model.Resources)
        {
            if (resource is IResourceWithParent child) edges.Add((child.Name, child.Parent.Name, EdgeKind.Parent));
            foreach (var annotation in resource.Annotations)
            {
                var edge = annotation switch
                {
                    ResourceReferenceAnnotation reference => (resource.Name, reference.Resource.Name, EdgeKind.Reference),
                    WaitAnnotation wait => (resource.Name, wait.Resource.Name, EdgeKind.Wait),
                    _ => default((string, string, EdgeKind)?),
                };
                // A wait on something also referenced is one dependency, drawn once.
                if (edge is { } e && !edges.Any(x => x.From == e.Item1 && x.To == e.Item2)) edges.Add(e);
            }
        }

        var depth = new Dictionary<string, int>(StringComparer.Ordinal);
        int Depth(string name, int guard)
        {
            if (depth.TryGetValue(name, out var known)) return known;
            // The engine refuses cycles; the guard only keeps a broken model from hanging the page.
            var d = guard > model.Resources.Count ? 0 : edges.Where(e => e.From == name).Select(e => Depth(e.To, guard + 1) + 1).DefaultIfEmpty(0).Max();
            depth[name] = d;
            return d;
        }
        foreach (var resource in model.Resources) Depth(resource.Name, 0);

        var positions = new Dictionary<string, NodePosition>(StringComparer.Ordinal);
        var rows = 0;
        foreach (var column in model.Resources.GroupBy(r => depth[r.Name]).OrderBy(g => g.Key))
        {
            var row = 0;
            foreach (var resource in column)
            {
                positions[resource.Name] = new NodePosition(margin + column.Key * (nodeWidth + columnGap), margin + row * (nodeHeight + rowGap));
                row++;
            }
            rows = Math.Max(rows, row);
        }
        return new GraphLayout(positions, edges) { Rows = rows };
    }
}
