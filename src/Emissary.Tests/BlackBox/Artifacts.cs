using System.Runtime.Versioning;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// The binaries the black-box tests run: <c>artifacts/emissary</c> (the published static
/// NativeAOT executable) and <c>artifacts/testchild</c> (tests/testchild/testchild.c).
/// Black-box tests are skipped where they are missing (see <see cref="Requirements"/>); a test
/// that runs anyway (scripts/test.sh requires them) fails here, saying how to build them.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class Artifacts
{
    private static readonly Lazy<string> RepoRootLazy = new(FindRepoRoot);

    public static string RepoRoot => RepoRootLazy.Value;

    public static string Directory => Path.Combine(RepoRoot, "artifacts");

    public static string Emissary => Require("emissary", Requirements.BuildHint);

    public static string EmissaryTools => Require("emissary-tools", Requirements.BuildHint);

    /// <summary>Tekton's entrypoint, drop-in (src/Emissary.Tekton).</summary>
    public static string Entrypoint => Require("entrypoint", Requirements.BuildHint);

    public static string TestChild => Require("testchild",
        Requirements.BuildHint);

    /// <summary>A statically linked busybox (Debian's busybox-static) for the empty-root tests.</summary>
    public static string StaticBusybox
    {
        get
        {
            const string path = "/bin/busybox";
            if (!File.Exists(path))
                throw new XunitException($"{path} not found: install Debian's busybox-static (apt-get install -y busybox-static)");
            if (!Elf.IsStaticallyLinked(path))
                throw new XunitException($"{path} is dynamically linked: install Debian's busybox-static instead of busybox");
            return path;
        }
    }

    private static string Require(string name, string hint)
    {
        string path = Path.Combine(Directory, name);
        if (!File.Exists(path))
            throw new XunitException($"black-box test binary missing: {path} — {hint}");
        return path;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Emissary.sln")))
                return dir.FullName;
        }
        throw new XunitException($"cannot find the repository root (a directory with Emissary.sln) above {AppContext.BaseDirectory}");
    }
}

/// <summary>Just enough ELF reading to tell a static executable from a dynamic one.</summary>
[SupportedOSPlatform("linux")]
internal static class Elf
{
    public static bool IsStaticallyLinked(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2)
            throw new XunitException($"{path} is not a 64-bit ELF file");
        long phoff = BitConverter.ToInt64(b, 0x20);
        int phentsize = BitConverter.ToUInt16(b, 0x36);
        int phnum = BitConverter.ToUInt16(b, 0x38);
        const uint PT_INTERP = 3;
        for (int i = 0; i < phnum; i++)
        {
            long off = phoff + (long)i * phentsize;
            if (BitConverter.ToUInt32(b, (int)off) == PT_INTERP)
                return false;
        }
        return true;
    }
}
