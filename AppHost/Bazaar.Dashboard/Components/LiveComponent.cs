using Bazaar.Dashboard.Telemetry;
using Microsoft.AspNetCore.Components;

namespace Bazaar.Dashboard.Components;

/// <summary>
/// A part of a page that updates itself over the Blazor circuit: it listens to the engine or the telemetry store
/// while the circuit is connected, and bursts of changes make one render. The prerendered HTML shows the state at
/// load; the listening starts once the page is interactive and stops when the user leaves it.
/// </summary>
public abstract class LiveComponent : ComponentBase, IDisposable
{
    /// <summary>Changes closer together than this are shown in one render.</summary>
    protected static readonly TimeSpan RenderInterval = TimeSpan.FromMilliseconds(150);

    /// <summary>At most one telemetry query per this interval however fast the receiver writes.</summary>
    protected static readonly TimeSpan TelemetryInterval = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _alive = new();
    private int _renderPending;

    /// <summary>Cancelled when the component leaves the page (or the circuit closes).</summary>
    protected CancellationToken Alive { get; }

    protected LiveComponent() => Alive = _alive.Token;

    /// <summary>Runs <paramref name="listen"/> while the circuit is connected; does nothing while prerendering.</summary>
    protected void Listen(Func<CancellationToken, Task> listen)
    {
        if (!RendererInfo.IsInteractive) return;
        _ = ListenAsync(listen);
    }

    /// <summary>Calls <paramref name="refresh"/> (on the renderer's thread) after each write to the store, then renders.</summary>
    protected void RefreshOnTelemetry(TelemetryStore store, Func<Task> refresh) => Listen(async alive =>
    {
        while (true)
        {
            await store.NextChange.WaitAsync(alive);
            await Task.Delay(TelemetryInterval, alive);
            await InvokeAsync(async () =>
            {
                await refresh();
                StateHasChanged();
            });
        }
    });

    /// <summary>Asks for a render within <see cref="RenderInterval"/>; callable from any thread.</summary>
    protected void RenderSoon()
    {
        if (Interlocked.Exchange(ref _renderPending, 1) == 1) return;
        _ = RenderLaterAsync();
    }

    private async Task RenderLaterAsync()
    {
        try
        {
            await Task.Delay(RenderInterval, Alive);
            Volatile.Write(ref _renderPending, 0);
            await InvokeAsync(StateHasChanged);
        }
        catch (OperationCanceledException) when (Alive.IsCancellationRequested)
        {
        }
    }

    private async Task ListenAsync(Func<CancellationToken, Task> listen)
    {
        try
        {
            await listen(Alive);
        }
        catch (OperationCanceledException) when (Alive.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            // Shown like any other error of the circuit, rather than a page that silently stops updating.
            await DispatchExceptionAsync(exception);
        }
    }

    public void Dispose()
    {
        _alive.Cancel();
        _alive.Dispose();
        GC.SuppressFinalize(this);
    }
}
