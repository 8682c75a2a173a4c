namespace Emissary.Interop;

/// <summary>A failed system call, carrying its errno.</summary>
internal sealed class SystemCallException(string call, Errno errno)
    : Exception($"{call}: {Libc.Describe(errno)}")
{
    public string Call { get; } = call;
    public Errno Errno { get; } = errno;
}
