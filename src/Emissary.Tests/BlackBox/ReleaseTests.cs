using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// scripts/release.sh: the kubectl plugin's archives and the krew manifest filled in from them, the
/// way krew checks them (the sha256 of each archive, the binary at the archive's root), from the
/// build under test; the same build packs to the same bytes.
/// </summary>
public sealed class ReleaseTests : BlackBoxTest
{
    private static string Script => Path.Combine(Artifacts.RepoRoot, "scripts", "release.sh");

    [BlackBoxFact(Needs = Needs.Arm64Build)]
    public void The_manifest_names_each_archive_by_its_checksum_and_each_archive_holds_its_binary_at_the_root()
    {
        string out1 = TempDir("rel");
        var result = Run(Script, "1.2.3", out1);
        result.ExitCode.Should().Be(0, "{0}", result);

        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(Path.Combine(out1, "emissary.yaml"))));
        var spec = (YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["spec"];
        ((YamlScalarNode)spec["version"]).Value.Should().Be("v1.2.3");
        var platforms = ((YamlSequenceNode)spec["platforms"]).Children.Cast<YamlMappingNode>().ToList();
        platforms.Should().HaveCount(2);
        foreach (YamlMappingNode platform in platforms)
        {
            string arch = ((YamlScalarNode)((YamlMappingNode)((YamlMappingNode)platform["selector"])["matchLabels"])["arch"]).Value!;
            string archive = $"emissary-tools-linux-{arch}.tar.gz";
            ((YamlScalarNode)platform["uri"]).Value.Should().Be($"https://github.com/emissary-dev/emissary/releases/download/v1.2.3/{archive}");
            byte[] bytes = File.ReadAllBytes(Path.Combine(out1, archive));
            ((YamlScalarNode)platform["sha256"]).Value.Should().Be(Convert.ToHexStringLower(SHA256.HashData(bytes)), "krew checks {0} against it", archive);
            ((YamlScalarNode)platform["bin"]).Value.Should().Be("emissary-tools");

            var entries = Entries(bytes);
            entries.Select(e => e.Name).Should().Equal(["emissary-tools"], "the binary alone, at the archive's root ({0})", archive);
            (_, UnixFileMode mode, int uid, byte[] content) = entries[0];
            mode.Should().Be((UnixFileMode)0b111_101_101);
            uid.Should().Be(0);
            string built = arch == "amd64" ? Path.Combine(Artifacts.RepoRoot, "artifacts", "emissary-tools") : Path.Combine(Artifacts.Arm64Directory, "emissary-tools");
            content.Should().Equal(File.ReadAllBytes(built), "{0} packs {1}", archive, built);
        }
        File.ReadAllText(Path.Combine(out1, "emissary.yaml")).Should().NotContain("0000000000000000").And.NotContain("PLACEHOLDERS");
        File.ReadAllLines(Path.Combine(out1, "SHA256SUMS")).Should().HaveCount(2);

        string out2 = TempDir("rel");
        Run(Script, "1.2.3", out2).ExitCode.Should().Be(0);
        foreach (string file in new[] { "emissary-tools-linux-amd64.tar.gz", "emissary-tools-linux-arm64.tar.gz", "emissary.yaml" })
            File.ReadAllBytes(Path.Combine(out2, file)).Should().Equal(File.ReadAllBytes(Path.Combine(out1, file)), "{0} is reproducible", file);
    }

    [BlackBoxTheory]
    [InlineData("v1.2.3")]
    [InlineData("1.2")]
    [InlineData("1.2.3; rm -rf /")]
    [InlineData("")]
    public void A_bad_version_is_one_line_and_exit_2_and_writes_nothing(string version)
    {
        string dir = TempDir("rel");
        string out1 = Path.Combine(dir, "out");

        var result = Run(Script, version, out1);

        result.ExitCode.Should().Be(2, "{0}", result);
        result.StderrLines.Should().ContainSingle().Which.Should().StartWith("release.sh: VERSION");
        Directory.Exists(out1).Should().BeFalse();
    }

    private static List<(string Name, UnixFileMode Mode, int Uid, byte[] Content)> Entries(byte[] archive)
    {
        var entries = new List<(string, UnixFileMode, int, byte[])>();
        using var gzip = new GZipStream(new MemoryStream(archive), CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            using var content = new MemoryStream();
            entry.DataStream?.CopyTo(content);
            entries.Add((entry.Name, entry.Mode, entry.Uid, content.ToArray()));
        }
        return entries;
    }
}
