using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// The binaries the black-box tests run: <c>artifacts/emissary</c> (the published static
/// NativeAOT executable) and <c>artifacts/testchild</c> (tests/testchild/testchild.c), or, with
/// <c>EMISSARY_ARCH=arm64</c>, the linux-arm64 build of the same in <c>artifacts/linux-arm64/</c>
/// (run under qemu-user on an x64 machine: see <see cref="Emulated"/>; docs/platforms.md).
/// Black-box tests are skipped where they are missing (see <see cref="Requirements"/>); a test
/// that runs anyway (scripts/test.sh requires them) fails here, saying how to build them.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class Artifacts
{
    /// <summary>Which build the black-box tests run: <c>x64</c> (the default) or <c>arm64</c>.</summary>
    public const string ArchVariable = "EMISSARY_ARCH";

    /// <summary>Where scripts/build.sh puts the linux-arm64 binaries, under artifacts/.</summary>
    public const string Arm64Subdirectory = "linux-arm64";

    private static readonly Lazy<string> RepoRootLazy = new(FindRepoRoot);

    public static string RepoRoot => RepoRootLazy.Value;

    /// <summary>The architecture of the binaries under test (EMISSARY_ARCH).</summary>
    public static Architecture Arch { get; } = (Environment.GetEnvironmentVariable(ArchVariable) ?? "x64") switch
    {
        "" or "x64" => Architecture.X64,
        "arm64" => Architecture.Arm64,
        var other => throw new InvalidOperationException($"{ArchVariable}={other}: the black-box tests run the x64 or the arm64 build"),
    };

    /// <summary>
    /// Whether the binaries under test run under emulation (qemu-user through binfmt_misc): an
    /// arm64 build on an x64 machine. Some tests cannot run faithfully there (see
    /// <see cref="Requirements.SkipReason"/> and the <c>NotUnderQemu</c> attribute property).
    /// </summary>
    public static bool Emulated => Arch != RuntimeInformation.OSArchitecture;

    public static string Directory => Arch == Architecture.Arm64 ? Arm64Directory : Path.Combine(RepoRoot, "artifacts");

    /// <summary>artifacts/linux-arm64: the arm64 build, whichever build the tests run.</summary>
    public static string Arm64Directory => Path.Combine(RepoRoot, "artifacts", Arm64Subdirectory);

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

/// <summary>Just enough ELF reading to tell a static executable from a dynamic one, its machine and whether it is stripped.</summary>
[SupportedOSPlatform("linux")]
internal static class Elf
{
    /// <summary>e_machine values: EM_X86_64, EM_AARCH64.</summary>
    public const ushort X86_64 = 62, AArch64 = 183;

    public static bool IsStaticallyLinked(string path)
    {
        byte[] b = Read64BitElf(path);
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

    /// <summary>The CPU the file is for (e_machine).</summary>
    public static ushort Machine(string path) => BitConverter.ToUInt16(Read64BitElf(path), 0x12);

    /// <summary>Whether the file is an executable (ET_EXEC, or ET_DYN as a static-pie is), not an object or a core dump.</summary>
    public static bool IsExecutable(string path) => BitConverter.ToUInt16(Read64BitElf(path), 0x10) is 2 or 3;

    /// <summary>Whether a symbol table (SHT_SYMTAB) is left in the file: "not stripped" in file(1)'s words.</summary>
    public static bool HasSymbolTable(string path)
    {
        byte[] b = Read64BitElf(path);
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A);
        int shnum = BitConverter.ToUInt16(b, 0x3C);
        const uint SHT_SYMTAB = 2;
        for (int i = 0; i < shnum; i++)
        {
            long off = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(b, (int)off + 4) == SHT_SYMTAB)
                return true;
        }
        return false;
    }

    private static byte[] Read64BitElf(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2 || b[5] != 1)
            throw new XunitException($"{path} is not a 64-bit little-endian ELF file");
        return b;
    }
}
