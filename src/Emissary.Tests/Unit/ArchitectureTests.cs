using System.Reflection;
using ArchUnitNET.Fluent;
using ArchUnitNET.Loader;
using ArchUnitNET.xUnit;
using Emissary.Events;
using static ArchUnitNET.Fluent.ArchRuleDefinition;
using Architecture = ArchUnitNET.Domain.Architecture;
using Assembly = System.Reflection.Assembly;

namespace Emissary.Tests.Unit;

/// <summary>
/// The layers of docs/architecture.md, checked on the compiled assemblies: the in-pod binary keeps its
/// size and start-up budget only while nothing on its path reaches the tools or YAML, and the
/// layers stay one-way only while something fails when an arrow is reversed.
/// </summary>
public sealed class ArchitectureTests
{
    private static readonly Assembly Core = typeof(Emissary.Foundation.UsageException).Assembly;
    private static readonly Assembly PodBinary = typeof(Emissary.Program).Assembly;
    private static readonly Assembly Tools = typeof(Emissary.Tools.ToolsProgram).Assembly;
    private static readonly Assembly Yaml = typeof(YamlDotNet.Serialization.Deserializer).Assembly;
    private static readonly Assembly Webhook = typeof(Emissary.Webhook.WebhookProgram).Assembly;

    private static readonly Architecture Code = new ArchLoader().LoadAssemblies(Core, PodBinary, Tools, Yaml, Webhook).Build();

    /// <summary>The namespace graph of the core's compiled types (also what docs/architecture.md's layer table is checked against).</summary>
    internal static NamespaceGraph CoreNamespaces() => NamespaceGraph.Of(Code, Core.GetName().Name!, "Emissary");

    // Namespaces as regular expressions: a layer includes its sub-namespaces (Supervision.Posix).
    private static ArchUnitNET.Fluent.Syntax.Elements.Types.GivenTypesConjunctionWithDescription In(params string[] layers) =>
        Types().That().ResideInNamespaceMatching($@"^Emissary\.({string.Join('|', layers)})(\..*)?$").As(string.Join(", ", layers));

    /// <summary>Every namespace of ours except the given ones.</summary>
    private static ArchUnitNET.Fluent.Syntax.Elements.Types.GivenTypesConjunctionWithDescription OursExcept(params string[] layers) =>
        Types().That().ResideInNamespaceMatching($@"^Emissary(\.(?!({string.Join('|', layers)})(\.|$)).*)?$").As("Emissary.* except " + string.Join(", ", layers));

    [Fact]
    public void No_two_namespaces_of_the_core_depend_on_each_other_even_through_others()
    {
        // The whole graph, not a list of forbidden arrows: a cycle added between any two
        // namespaces, present or future, fails here. EMISSARY_NAMESPACE_GRAPH=FILE writes the
        // edges (docs/architecture.md's layer table was checked against them).
        NamespaceGraph graph = CoreNamespaces();
        graph.Namespaces.Should().Contain(["Emissary.Control", "Emissary.Results", "Emissary.Interop"], "the graph is read from the core's real types");
        graph.Edges().Should().Contain(("Emissary.Control", "Emissary.Interop"), "the graph sees dependencies");
        if (Environment.GetEnvironmentVariable("EMISSARY_NAMESPACE_GRAPH") is { Length: > 0 } dump)
        {
            File.WriteAllLines(dump, graph.Edges().Select(e => $"{e.From} -> {e.To}"));
        }
        List<List<string>> cycles = graph.Cycles();
        cycles.Should().BeEmpty("namespaces form layers that point one way; found:\n" + graph.Describe(cycles));
    }

    [Fact]
    public void The_cycle_finder_finds_a_cycle_through_a_third_namespace_and_none_in_a_chain()
    {
        var chain = new NamespaceGraph();
        chain.Add("A", "B", "A.X → B.Y");
        chain.Add("B", "C", "B.Y → C.Z");
        chain.Add("A", "C", "A.X → C.Z");
        chain.Cycles().Should().BeEmpty();

        var cyclic = new NamespaceGraph();
        cyclic.Add("A", "B", "A.X → B.Y");
        cyclic.Add("B", "C", "B.Y → C.Z");
        cyclic.Add("C", "A", "C.Z → A.X");
        cyclic.Add("C", "D", "C.Z → D.W");
        cyclic.Cycles().Should().BeEquivalentTo(new[] { new[] { "A", "B", "C" } });
        cyclic.Describe(cyclic.Cycles()).Should().Contain("C → A: C.Z → A.X");
    }

    [Fact]
    public void The_core_library_never_depends_on_the_tools_or_on_YamlDotNet()
    {
        Types().That().ResideInAssembly(Core).Should().NotDependOnAny(
                Types().That().ResideInNamespaceMatching(@"^Emissary\.Tools(\..*)?$").Or().ResideInAssembly(Tools).Or().ResideInAssembly(Yaml))
            .Because("emissary-tools is built on the core, never the reverse, and YAML parsing has no place in the pod")
            .Check(Code);
    }

    [Fact]
    public void The_pod_binary_references_no_YAML_package_directly_or_through_the_core()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<AssemblyName>([PodBinary.GetName()]);
        while (queue.TryDequeue(out AssemblyName? name))
        {
            if (!seen.Add(name.Name!) || name.Name!.StartsWith("System", StringComparison.Ordinal))
            {
                continue;
            }
            foreach (AssemblyName reference in Assembly.Load(name).GetReferencedAssemblies())
            {
                queue.Enqueue(reference);
            }
        }
        seen.Should().Contain("Emissary.Core", "the walk follows the pod binary's references");
        seen.Should().NotContain(n => n.Contains("Yaml", StringComparison.OrdinalIgnoreCase));
        seen.Should().NotContain("emissary-tools");
        seen.Should().NotContain("emissary-webhook");
        seen.Should().NotContain(n => n.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
        Types().That().ResideInAssembly(PodBinary).Should().NotDependOnAny(Types().That().ResideInAssembly(Yaml).Or().ResideInAssembly(Tools))
            .Check(Code);
    }

    [Fact]
    public void The_core_uses_neither_LINQ_nor_System_Text_Json()
    {
        // Measured (README, "Size"): LINQ's generic virtual methods pull in NativeAOT's type loader,
        // and System.Text.Json's writer and JsonDocument cost ~90 KB; Emissary.Json and
        // Foundation.Sequences do the little the pod needs. ArchUnitNET only sees the types of the
        // loaded assemblies, so the check reads the type references of Emissary.Core's metadata.
        using var file = File.OpenRead(Core.Location);
        using var pe = new System.Reflection.PortableExecutable.PEReader(file);
        System.Reflection.Metadata.MetadataReader metadata = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        var referenced = new List<string>();
        foreach (System.Reflection.Metadata.TypeReferenceHandle handle in metadata.TypeReferences)
        {
            System.Reflection.Metadata.TypeReference type = metadata.GetTypeReference(handle);
            referenced.Add(metadata.GetString(type.Namespace) + "." + metadata.GetString(type.Name));
        }
        referenced.Should().Contain("System.Collections.Generic.List`1", "the check reads real references");
        referenced.Should().NotContain(name => name.StartsWith("System.Linq.", StringComparison.Ordinal) || name.StartsWith("System.Text.Json.", StringComparison.Ordinal));
    }

    [Fact]
    public void The_pod_code_never_calls_the_List_methods_that_give_every_list_static_state()
    {
        // List<T>'s shared code is compiled once for every reference T, and the compiler fills each
        // List<T>'s generic dictionary with what any compiled method needs: one Sort gave all of the
        // binary's lists a sort helper and a comparer, one Remove an equality comparer, each with
        // static state allocated at every start (Foundation.Sequences: SortInPlace, RemoveSame).
        // A list of a value type has code of its own and is not concerned.
        string[] banned = ["Sort", "Remove", "IndexOf", "LastIndexOf", "Contains", "BinarySearch"];
        var called = new List<string>();
        foreach (Assembly assembly in new[] { Core, PodBinary })
        {
            using var file = File.OpenRead(assembly.Location);
            using var pe = new System.Reflection.PortableExecutable.PEReader(file);
            System.Reflection.Metadata.MetadataReader metadata = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
            foreach (System.Reflection.Metadata.MemberReferenceHandle handle in metadata.MemberReferences)
            {
                System.Reflection.Metadata.MemberReference member = metadata.GetMemberReference(handle);
                if (member.Parent.Kind == System.Reflection.Metadata.HandleKind.TypeSpecification
                    && ListOfReferences(metadata, (System.Reflection.Metadata.TypeSpecificationHandle)member.Parent) is { } list)
                {
                    called.Add($"{list}.{metadata.GetString(member.Name)}");
                }
            }
        }
        called.Should().Contain(c => c.EndsWith(".Add", StringComparison.Ordinal), "the check reads real references");
        called.Should().NotContain(c => banned.Any(b => c.EndsWith("." + b, StringComparison.Ordinal)));
    }

    /// <summary>"List&lt;ELEMENT&gt;" when a type specification is a <c>List&lt;T&gt;</c> of a reference type (or of a type parameter), else null.</summary>
    private static string? ListOfReferences(System.Reflection.Metadata.MetadataReader metadata, System.Reflection.Metadata.TypeSpecificationHandle spec)
    {
        // ECMA-335 II.23.2.12: GENERICINST (CLASS|VALUETYPE) TypeDefOrRefOrSpecEncoded GenArgCount Type*
        const byte GenericInstance = 0x15, Class = 0x12, String = 0x0e, Object = 0x1c, Array = 0x1d, TypeParameter = 0x13, MethodParameter = 0x1e;
        System.Reflection.Metadata.BlobReader blob = metadata.GetBlobReader(metadata.GetTypeSpecification(spec).Signature);
        if (blob.ReadByte() != GenericInstance || blob.ReadByte() != Class
            || Name(metadata, blob.ReadTypeHandle()) != "System.Collections.Generic.List`1" || blob.ReadCompressedInteger() != 1)
        {
            return null;
        }
        byte element = blob.ReadByte();
        if (element == GenericInstance)
        {
            element = blob.ReadByte(); // a constructed class is shared code, a constructed struct is not
        }
        return element switch
        {
            String => "List<string>",
            Object => "List<object>",
            Array => "List<array>",
            // A list of a type's own parameter is the compiler's wrapper for a collection expression
            // (<>z__ReadOnlyList<T>), whose IList<T> methods pass through and are compiled only when
            // called through that interface; a generic method of ours is checked like any other.
            TypeParameter => null,
            MethodParameter => "List<T>",
            Class => $"List<{Name(metadata, blob.ReadTypeHandle())}>",
            _ => null,
        };
    }

    private static string Name(System.Reflection.Metadata.MetadataReader metadata, System.Reflection.Metadata.EntityHandle type) => type.Kind switch
    {
        System.Reflection.Metadata.HandleKind.TypeReference => metadata.GetTypeReference((System.Reflection.Metadata.TypeReferenceHandle)type) is var r
            ? metadata.GetString(r.Namespace) + "." + metadata.GetString(r.Name) : "",
        System.Reflection.Metadata.HandleKind.TypeDefinition => metadata.GetTypeDefinition((System.Reflection.Metadata.TypeDefinitionHandle)type) is var d
            ? metadata.GetString(d.Namespace) + "." + metadata.GetString(d.Name) : "",
        _ => "",
    };

    [Fact]
    public void Only_the_webhook_depends_on_ASP_NET_Core_and_nothing_depends_on_the_webhook()
    {
        Types().That().ResideInAssembly(Core).Or().ResideInAssembly(PodBinary).Or().ResideInAssembly(Tools)
            .Should().NotDependOnAny(Types().That().ResideInAssembly(Webhook).Or().ResideInNamespaceMatching(@"^Microsoft\.AspNetCore(\..*)?$"))
            .Because("Kestrel and TLS are megabytes that only emissary-webhook carries; the rewriter it calls lives in the tools")
            .Check(Code);
    }

    [Fact]
    public void Interop_depends_on_nothing_of_ours()
    {
        In("Interop").Should().NotDependOnAny(OursExcept("Interop"))
            .Because("the libc declarations are the bottom layer").Check(Code);
    }

    [Fact]
    public void The_file_helpers_depend_only_on_Interop_and_the_neutral_layer_only_on_them()
    {
        In("Files").Should().NotDependOnAny(OursExcept("Files", "Interop"))
            .Because("AtomicFile, UntrustedFile and WritePath serve every layer above, Control and Results alike").Check(Code);
        In("Foundation").Should().NotDependOnAny(OursExcept("Foundation", "Files", "Interop")).Check(Code);
        In("Events").Should().NotDependOnAny(OursExcept("Events", "Foundation", "Files", "Interop")).Check(Code);
    }

    [Fact]
    public void No_CLI_type_is_used_below_the_commands()
    {
        In("Control", "Gates", "Output", "Results", "Recording", "Net", "Sidecars", "Telemetry", "Streams", "Supervision", "Interop", "Files", "Json", "Logging", "Foundation", "Events")
            .Should().NotDependOnAny(In("Cli"))
            .Because("user errors, durations and error text live in Emissary.Foundation").Check(Code);
    }

    [Fact]
    public void Gates_control_directory_and_output_do_not_hold_the_POSIX_reactor()
    {
        In("Gates", "Control", "Output", "Results", "Recording", "Telemetry", "Streams").Should().NotDependOnAny(In(@"Supervision\.Posix"))
            .Because("they register with Events.IEventLoop; which loop runs is the composition root's choice").Check(Code);
    }

    [Fact]
    public void Every_layer_below_the_CLI_points_down_only()
    {
        In("Control", "Gates", "Output", "Results", "Recording", "Net", "Sidecars", "Telemetry", "Streams", "Json", "Logging")
            .Should().NotDependOnAny(In("Supervision", "Commands", "Cli")).Check(Code);
        In("Supervision").Should().NotDependOnAny(In("Commands", "Cli")).Check(Code);
        In("Commands").Should().NotDependOnAny(In("Cli")).Because("the CLI parses into options that the commands run").Check(Code);
    }

    [Fact]
    public void The_Tekton_mode_is_a_top_layer_beside_the_CLI_that_nothing_else_uses()
    {
        In("Tekton").Should().NotDependOnAny(In("Cli", "Commands"))
            .Because("it has its own command line (Go flag syntax) and uses the layers below the commands, never emissary's CLI").Check(Code);
        OursExcept("Tekton", "TektonEntrypoint").Should().NotDependOnAny(In("Tekton"))
            .Because("the in-pod emissary binary must not reference it: NativeAOT then trims all of it from that binary").Check(Code);
    }

    [Fact]
    public void The_control_directory_is_below_results_and_the_recorder_above_both()
    {
        In("Control").Should().NotDependOnAny(In("Results", "Recording", "Output"))
            .Because("results and the termination message read Control's records; what coordinates them is Recording").Check(Code);
        In("Results", "Output").Should().NotDependOnAny(In("Recording"))
            .Because("StepRecorder puts capture, results and the control directory together; they do not call it").Check(Code);
        In("Control", "Gates", "Output", "Results", "Net", "Sidecars", "Telemetry", "Streams").Should().NotDependOnAny(In("Recording"))
            .Because("the recorder is what Supervision's StepRunner is given; nothing below it records a step").Check(Code);
    }

    [Fact]
    public void The_control_directory_records_usage_but_does_not_measure_or_export()
    {
        In("Control", "Results").Should().NotDependOnAny(In("Telemetry"))
            .Because("Telemetry measures and exports and reads Control's records; StepUsage, the record, lives in Control so the arrow points one way").Check(Code);
    }
}
