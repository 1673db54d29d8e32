namespace Bazaar.Messaging;
