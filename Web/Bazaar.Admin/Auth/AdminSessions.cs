using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Bazaar.Admin.Auth;

/// <summary>
/// One signed-in admin's tokens from auth-api. They stay in this process: the browser holds only an opaque, data-protected
/// cookie naming the session, so no script can read a token and a circuit can refresh one without an HTTP response.
/// </summary>
public sealed class AdminSession(string id, string userId, string email, string displayName, TokenPair tokens)
{
    public string Id { get; } = id;

    public string UserId { get; } = userId;

    public string Email { get; } = email;

    public string DisplayName { get; } = displayName;

    public TokenPair Tokens { get; set; } = tokens;

    public DateTimeOffset LastUsed { get; set; }

    /// <summary>One refresh at a time: refresh tokens rotate, and presenting a rotated one revokes the whole family.</summary>
    public SemaphoreSlim RefreshLock { get; } = new(1, 1);
}

/// <summary>An access token, when it stops working, and the refresh token that gets the next pair.</summary>
public sealed record TokenPair(string AccessToken, DateTimeOffset AccessTokenExpires, string RefreshToken);

/// <summary>
/// The signed-in admins' sessions, in memory. A restart of the admin app signs everyone out (they sign in again); the
/// tokens are never written anywhere. Sessions not used for <see cref="IdleLimit"/> are dropped.
/// </summary>
public sealed class AdminSessionStore(TimeProvider time)
{
    /// <summary>As long as the sign-in cookie lives without use (its sliding expiry).</summary>
    public static readonly TimeSpan IdleLimit = TimeSpan.FromHours(8);

    private readonly ConcurrentDictionary<string, AdminSession> _sessions = new(StringComparer.Ordinal);

    public AdminSession Add(string userId, string email, string displayName, TokenPair tokens)
    {
        DropIdle();
        var session = new AdminSession(Convert.ToHexString(RandomNumberGenerator.GetBytes(32)), userId, email, displayName, tokens)
        {
            LastUsed = time.GetUtcNow(),
        };
        _sessions[session.Id] = session;
        return session;
    }

    public AdminSession? Find(string? id)
    {
        if (id is null || !_sessions.TryGetValue(id, out AdminSession? session))
        {
            return null;
        }

        DateTimeOffset now = time.GetUtcNow();
        if (now - session.LastUsed > IdleLimit)
        {
            Remove(id);
            return null;
        }

        session.LastUsed = now;
        return session;
    }

    /// <summary>Whether the session still exists, without counting as a use (an open page alone keeps no one signed in).</summary>
    public bool IsActive(string? id) =>
        id is not null && _sessions.TryGetValue(id, out AdminSession? session) && time.GetUtcNow() - session.LastUsed <= IdleLimit;

    public AdminSession? Remove(string? id) => id is not null && _sessions.TryRemove(id, out AdminSession? session) ? session : null;

    private void DropIdle()
    {
        DateTimeOffset now = time.GetUtcNow();
        foreach ((string id, AdminSession session) in _sessions)
        {
            if (now - session.LastUsed > IdleLimit)
            {
                _sessions.TryRemove(id, out _);
            }
        }
    }
}
