using Bazaar.Auth.Api.Accounts;
using Bazaar.Auth.Api.Data;
using Bazaar.Auth.Api.Keys;
using Bazaar.Auth.Api.Tokens;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.Extensions.Options;

namespace Bazaar.Auth.Api.Apis;

/// <summary>What the auth endpoints depend on, arriving as one <c>[AsParameters]</c> argument.</summary>
internal sealed record AuthServices(
    UserStore Users,
    RefreshTokenStore RefreshTokens,
    TokenIssuer Tokens,
    SigningKeyRing Keys,
    PasswordVerifier Passwords,
    LoginThrottle Throttle,
    TokenDenyList DenyList,
    TimeProvider Time,
    IOptions<AuthApiOptions> Options,
    IOptions<BazaarAuthenticationOptions> ValidationOptions,
    ILogger<AuthServices> Logger);
