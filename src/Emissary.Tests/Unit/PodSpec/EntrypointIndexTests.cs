using Emissary.Tools.PodSpec;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>The --entrypoints file: image → entrypoint and cmd, exact match first, then the repository without tag.</summary>
public sealed class EntrypointIndexTests
{
    private static readonly EntrypointIndex Index = EntrypointIndex.Parse("""
        alpine:3.20: {cmd: [/bin/sh]}
        ghcr.io/acme/migrate: {entrypoint: [/migrate], cmd: [up]}
        registry:5000/team/app:
          entrypoint: [/app]
        nginx:1.27: {entrypoint: [/docker-entrypoint.sh], cmd: null}
        """, "ep.yaml");

    [Theory]
    [InlineData("alpine:3.20", "", "/bin/sh")]
    [InlineData("ghcr.io/acme/migrate", "/migrate", "up")]
    [InlineData("ghcr.io/acme/migrate:v7", "/migrate", "up")]
    [InlineData("ghcr.io/acme/migrate@sha256:0123", "/migrate", "up")]
    [InlineData("ghcr.io/acme/migrate:v7@sha256:0123", "/migrate", "up")]
    [InlineData("registry:5000/team/app:2", "/app", "")]
    [InlineData("nginx:1.27", "/docker-entrypoint.sh", "")]
    public void An_image_is_found_as_written_or_by_its_repository(string image, string entrypoint, string cmd)
    {
        ImageEntrypoint entry = Index.Find(image)!;

        string.Join(' ', entry.Entrypoint).Should().Be(entrypoint);
        string.Join(' ', entry.Cmd).Should().Be(cmd);
    }

    [Theory]
    [InlineData("alpine:3.19")]
    [InlineData("alpine")]
    [InlineData("docker.io/library/alpine:3.20")]
    [InlineData("nginx")]
    public void An_entry_with_a_tag_never_stands_for_another_tag(string image)
    {
        Index.Find(image).Should().BeNull();
    }

    [Theory]
    [InlineData("alpine:3.20", "alpine")]
    [InlineData("registry:5000/app", "registry:5000/app")]
    [InlineData("registry:5000/app:1@sha256:ab", "registry:5000/app")]
    [InlineData("app@sha256:ab", "app")]
    public void The_repository_is_the_image_without_tag_and_digest(string image, string repository)
    {
        EntrypointIndex.Repository(image).Should().Be(repository);
    }

    [Fact]
    public void JSON_works_too_and_an_empty_file_is_an_empty_index()
    {
        EntrypointIndex.Parse("{\"busybox\": {\"cmd\": [\"sh\"]}}", "ep.json").Find("busybox:1.36")!.Cmd.Should().Equal("sh");
        EntrypointIndex.Parse("", "ep.yaml").Count.Should().Be(0);
    }

    [Theory]
    [InlineData("- a\n", "ep.yaml: expected one mapping from image to {entrypoint: [...], cmd: [...]}")]
    [InlineData("alpine: [sh]\n", "ep.yaml: \"alpine\": expected a mapping with entrypoint and/or cmd")]
    [InlineData("alpine: {entrypiont: [sh]}\n", "ep.yaml: \"alpine\": unknown key \"entrypiont\" (did you mean \"entrypoint\"?)")]
    [InlineData("alpine: {cmd: /bin/sh -c}\n", "ep.yaml: \"alpine\".cmd: expected a list of strings (the exec form, as docker inspect shows it)")]
    [InlineData("alpine: {cmd: [\n", "ep.yaml: line 2, column 1: malformed YAML: while parsing a node, did not find expected node content")]
    public void A_bad_file_is_reported_naming_the_entry(string text, string message)
    {
        var parse = () => EntrypointIndex.Parse(text, "ep.yaml");

        parse.Should().Throw<ManifestReadException>().WithMessage(message);
    }
}
