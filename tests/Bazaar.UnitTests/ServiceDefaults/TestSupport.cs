using System.Collections.Concurrent;
using System.Net;

namespace Bazaar.UnitTests.ServiceDefaults;

internal static class Eventually
{
    /// <summary>Polls until the condition holds; fails after the deadline instead of sleeping a fixed time.</summary>
    public static async Task HoldsAsync(Func<bool> condition, string what, TimeSpan? within = null)
    {
        DateTime deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }

            await Task.Delay(5);
        }
    }
}

/// <summary>The server side of an HttpClient: answers each call with the next scripted reply and remembers the call.</summary>
internal sealed class ScriptedHandler(params Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>>[] replies) : HttpMessageHandler
{
    private readonly ConcurrentQueue<Uri> calls = new();
    private int callCount;

    public int CallCount => Volatile.Read(ref callCount);

    public IReadOnlyList<Uri> Calls => [.. calls];

    public static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Status(HttpStatusCode status, Action<HttpResponseMessage>? shape = null) =>
        (_, _) =>
        {
            var response = new HttpResponseMessage(status);
            shape?.Invoke(response);
            return Task.FromResult(response);
        };

    public static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Throws(Exception exception) =>
        (_, _) => Task.FromException<HttpResponseMessage>(exception);

    public static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Hangs() =>
        async (_, cancellationToken) =>
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        calls.Enqueue(request.RequestUri!);
        int index = Interlocked.Increment(ref callCount) - 1;
        var reply = replies[Math.Min(index, replies.Length - 1)];
        HttpResponseMessage response = await reply(request, cancellationToken);
        response.RequestMessage = request;
        return response;
    }
}
