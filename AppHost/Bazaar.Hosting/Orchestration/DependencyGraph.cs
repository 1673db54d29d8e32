namespace Bazaar.Hosting;

/// <summary>Who waits for whom: WaitFor and parent resources (a database waits for its server).</summary>
public static class DependencyGraph
{
    public static IReadOnlyList<IResource> DependenciesOf(IResource resource)
    {
        var dependencies = new List<IResource>();
        if (resource is IResourceWithParent child)
        {
            dependencies.Add(child.Parent);
        }

        foreach (WaitAnnotation wait in resource.Annotations.OfType<WaitAnnotation>())
        {
            if (!dependencies.Contains(wait.Resource))
            {
                dependencies.Add(wait.Resource);
            }
        }

        return dependencies;
    }

    public static IReadOnlyList<IResource> DependentsOf(DistributedApplicationModel model, IResource resource) =>
        model.Resources.Where(r => DependenciesOf(r).Contains(resource)).ToList();

    /// <summary>Every resource after the ones it waits for; declaration order otherwise. Refuses cycles.</summary>
    public static IReadOnlyList<IResource> StartOrder(DistributedApplicationModel model)
    {
        var order = new List<IResource>();
        var state = new Dictionary<IResource, bool>(); // false: on the current path, true: done
        var path = new Stack<IResource>();

        void Visit(IResource resource)
        {
            if (state.TryGetValue(resource, out bool done))
            {
                if (!done)
                {
                    IEnumerable<string> cycle = path.Reverse().SkipWhile(r => r != resource).Select(r => r.Name).Append(resource.Name);
                    throw new DistributedApplicationException(
                        $"The resources wait for each other in a cycle: {string.Join(" -> ", cycle)}. Remove one of these WaitFor calls.");
                }

                return;
            }

            state[resource] = false;
            path.Push(resource);
            foreach (IResource dependency in DependenciesOf(resource))
            {
                Visit(dependency);
            }

            path.Pop();
            state[resource] = true;
            order.Add(resource);
        }

        foreach (IResource resource in model.Resources)
        {
            Visit(resource);
        }

        return order;
    }

    public static void Validate(DistributedApplicationModel model)
    {
        foreach (IResource resource in model.Resources)
        {
            foreach (IResource dependency in DependenciesOf(resource).Concat(resource.Annotations.OfType<ResourceReferenceAnnotation>().Select(r => r.Resource)))
            {
                if (!model.Resources.Contains(dependency))
                {
                    throw new DistributedApplicationException(
                        $"'{resource.Name}' refers to '{dependency.Name}', which is not part of this application: add it with the same builder.");
                }
            }
        }

        _ = StartOrder(model);
    }
}
