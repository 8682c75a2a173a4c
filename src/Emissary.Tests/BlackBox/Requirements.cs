using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>What a black-box test needs from the machine beyond the .NET SDK.</summary>
[Flags]
public enum Needs
{
    /// <summary>Only what every black-box test needs: artifacts/emissary, emissary-tools and testchild, and the tools scripts/test.sh installs (busybox-static, util-linux).</summary>
    None = 0,

    /// <summary>Root: PID namespaces, chroot, setpriv, mounts.</summary>
    Root = 1,

    /// <summary>Root with podman, buildah and runc set up (scripts/podman-setup.sh).</summary>
    Podman = 2,

    /// <summary>The linux-arm64 build in artifacts/linux-arm64/ (scripts/build.sh, unless EMISSARY_ARCHS=x64), whichever build the test runs.</summary>
    Arm64Build = 4,
}

/// <summary>
/// One rule for every black-box test: where a need is missing, the test is skipped with a reason
/// that says how to run it (plain <c>dotnet test</c> on a fresh clone, or as non-root), unless the
/// need is listed in <c>EMISSARY_REQUIRE</c> (comma-separated: <c>artifacts</c>, <c>root</c>,
/// <c>podman</c>, <c>arm64</c>). scripts/test.sh lists what it has just provided, so there a missing
/// need runs the test, which fails on it with the same reason instead of hiding behind a skip.
/// The one other skip: a test marked <c>NotUnderQemu</c> when the build under test is emulated
/// (<see cref="Artifacts.Emulated"/>), with the reason (<see cref="Qemu"/>) in its message.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class Requirements
{
    public const string Variable = "EMISSARY_REQUIRE";

    public const string BuildHint = "run scripts/build.sh first (scripts/test.sh builds and runs every test)";

    public const string RootHint = "run scripts/test.sh as root";

    public const string PodmanHint = "run scripts/test.sh as root without EMISSARY_SKIP_E2E=1 (it runs scripts/podman-setup.sh)";

    public const string Arm64Hint = "run scripts/build.sh without EMISSARY_ARCHS=x64";

    private static readonly HashSet<string> Required =
        (Environment.GetEnvironmentVariable(Variable) ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether EMISSARY_REQUIRE lists <paramref name="need"/> (artifacts, root, podman).</summary>
    public static bool IsRequired(string need) => Required.Contains(need);

    /// <summary>Why a test with these needs cannot run here, or null when it can (or must).</summary>
    public static string? SkipReason(Needs needs)
    {
        if (MissingArtifacts() is { } artifacts && !IsRequired("artifacts"))
            return $"needs {artifacts}: {BuildHint}";
        if ((needs & (Needs.Root | Needs.Podman)) != 0 && !Libc.IsRoot && !IsRequired("root"))
            return $"needs root: {RootHint}";
        if ((needs & Needs.Podman) != 0 && MissingPodmanTool() is { } tool && !IsRequired("podman"))
            return $"needs {tool} to run pods with podman: {PodmanHint}";
        if ((needs & Needs.Arm64Build) != 0 && MissingArm64Build() is { } arm64 && !IsRequired("arm64"))
            return $"needs {arm64}: {Arm64Hint}";
        return null;
    }

    /// <summary>
    /// The skip message of a test that qemu-user cannot run faithfully (<paramref name="notUnderQemu"/>,
    /// one of <see cref="Qemu"/>'s reasons) when the build under test is emulated; null otherwise.
    /// </summary>
    public static string? QemuSkipReason(string? notUnderQemu) =>
        notUnderQemu is not null && Artifacts.Emulated
            ? $"not under qemu-user ({Artifacts.Arch.ToString().ToLowerInvariant()} build on {RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}): {notUnderQemu}"
            : null;

    /// <summary>Fails the test (with the skip reason) unless root: for tests that got past the skip because root is required.</summary>
    public static void Root(string why)
    {
        if (!Libc.IsRoot)
            throw new XunitException($"this test needs root ({why}): {RootHint}");
    }

    /// <summary>Fails the test unless podman and its tools are there: for tests that got past the skip because podman is required.</summary>
    public static void Podman()
    {
        Root("podman");
        if (MissingPodmanTool() is { } tool)
            throw new XunitException($"this test needs {tool} to run pods with podman: {PodmanHint}");
    }

    private static string? MissingArtifacts()
    {
        string dir = Artifacts.Directory;
        string[] missing = new[] { "emissary", "emissary-tools", "emissary-webhook", "entrypoint", "testchild" }
            .Where(name => !File.Exists(Path.Combine(dir, name))).ToArray();
        return missing.Length > 0 ? string.Join(", ", missing.Select(name => $"artifacts/{name}")) : null;
    }

    private static string? MissingArm64Build()
    {
        string[] missing = new[] { "emissary", "entrypoint" }
            .Where(name => !File.Exists(Path.Combine(Artifacts.Arm64Directory, name))).ToArray();
        return missing.Length > 0 ? string.Join(", ", missing.Select(name => $"artifacts/{Artifacts.Arm64Subdirectory}/{name}")) : null;
    }

    private static string? MissingPodmanTool() =>
        new[] { "podman", "buildah", "runc" }.FirstOrDefault(tool => !OnPath(tool)) is { } tool ? tool
        : !File.Exists("/bin/busybox") ? "/bin/busybox (busybox-static)"
        : null;

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':')
            .Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, tool)));
}

/// <summary>A black-box fact: skipped, saying how to run it, where <see cref="Needs"/> are missing, or under qemu-user when marked <see cref="NotUnderQemu"/> (see <see cref="Requirements"/>).</summary>
[SupportedOSPlatform("linux")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class BlackBoxFactAttribute : FactAttribute
{
    public Needs Needs { get; set; }

    /// <summary>Why qemu-user cannot run this test faithfully (one of <see cref="Qemu"/>'s reasons): skipped, saying so, when the build under test is emulated.</summary>
    public string? NotUnderQemu { get; set; }

    public override string? Skip
    {
        get => base.Skip ?? Requirements.SkipReason(Needs) ?? Requirements.QemuSkipReason(NotUnderQemu);
        set => base.Skip = value;
    }
}

/// <summary>A black-box theory: skipped, saying how to run it, where <see cref="Needs"/> are missing, or under qemu-user when marked <see cref="NotUnderQemu"/> (see <see cref="Requirements"/>).</summary>
[SupportedOSPlatform("linux")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class BlackBoxTheoryAttribute : TheoryAttribute
{
    public Needs Needs { get; set; }

    /// <summary>Why qemu-user cannot run this test faithfully (one of <see cref="Qemu"/>'s reasons): skipped, saying so, when the build under test is emulated.</summary>
    public string? NotUnderQemu { get; set; }

    public override string? Skip
    {
        get => base.Skip ?? Requirements.SkipReason(Needs) ?? Requirements.QemuSkipReason(NotUnderQemu);
        set => base.Skip = value;
    }
}

/// <summary>
/// A test of the core (no artifacts) that needs root, e.g. to chown or mount: skipped, saying how
/// to run it, when not root, unless <c>EMISSARY_REQUIRE</c> lists <c>root</c> (see <see cref="Requirements"/>).
/// </summary>
[SupportedOSPlatform("linux")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootFactAttribute : FactAttribute
{
    public override string? Skip
    {
        get => base.Skip ?? (!Libc.IsRoot && !Requirements.IsRequired("root") ? $"needs root: {Requirements.RootHint}" : null);
        set => base.Skip = value;
    }
}
