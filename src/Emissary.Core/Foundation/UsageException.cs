namespace Emissary.Foundation;

/// <summary>Bad input from the user (flags, environment, paths): one line on stderr and exit 125.</summary>
internal sealed class UsageException(string message) : Exception(message);
