namespace Emissary.Interop;

/// <summary>
/// A failed system call, carrying its errno. An <see cref="IOException"/> whose HResult is the
/// errno, like the runtime's own I/O errors on Linux, so one <c>catch (IOException)</c> covers
/// both and <see cref="Foundation.ErrorText"/> can describe either the same way.
/// </summary>
internal sealed class SystemCallException : IOException
{
    public SystemCallException(string call, Errno errno)
        : base($"{call}: {Libc.Describe(errno)}", (int)errno)
    {
        Call = call;
        Errno = errno;
    }

    public string Call { get; }

    public Errno Errno { get; }
}
