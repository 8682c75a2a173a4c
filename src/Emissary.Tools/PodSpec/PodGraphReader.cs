using YamlDotNet.RepresentationModel;
using Emissary.Control;
using Emissary.Foundation;

namespace Emissary.Tools.PodSpec;

/// <summary>
/// Reads one pod into a <see cref="PodGraph"/>, validating as it goes; every problem becomes a
/// <see cref="ManifestError"/> naming the document and the path.
///
/// Overview. Each container's settings can be declared three ways: a container field
/// (<c>timeout: 30s</c>), a pod annotation (<c>emissary.dev/build.timeout: "30s"</c>), or, in a pod
/// that was rewritten already, the <c>emissary run</c> flags of its command. A field and an
/// annotation that disagree are an error; otherwise the field wins, then the annotation, then the
/// rewritten command (so that editing an annotation of a rewritten pod and rewriting again works).
/// </summary>
internal sealed class PodGraphReader(ManifestObject manifest, PodGraphOptions options, ICollection<ManifestError> errors)
{
    private const string NativeSidecarsAnnotation = "native-sidecars";
    private const string ProxyAnnotation = "proxy";
    private const string BreakpointAnnotation = "breakpoint";
    private static readonly string[] PodAnnotations = [NativeSidecarsAnnotation, ProxyAnnotation, PodInjection.InjectAnnotation, PodInjection.DeliveryAnnotation, BreakpointAnnotation];

    /// <summary>At most this many cycles are printed for one pod: enough to see the mistake, bounded whatever the pod.</summary>
    internal const int MaxCyclesShown = 10;

    /// <summary>At most this many "did you mean" searches over the step names per pod (each compares a name with every step).</summary>
    private const int MaxNameSuggestions = 20;

    /// <summary>At most this many upstream steps are listed in one error line.</summary>
    private const int MaxUpstreamsShown = 10;

    private readonly List<Container> _containers = [];
    private readonly Dictionary<string, Container> _byName = new(StringComparer.Ordinal);
    private int _nameSuggestionsLeft = MaxNameSuggestions;
    private readonly Dictionary<string, string> _userInitContainers = new(StringComparer.Ordinal); // name → path
    private readonly List<(string Key, string Value, string Path)> _annotations = [];
    private readonly List<(string Key, string Value)> _labels = [];
    private int _errorCount;
    private string? _podRestartPolicy;

    public PodGraph? Read()
    {
        string specPath = manifest.PodSpecPath;
        if (manifest.At(specPath) is not YamlMappingNode spec)
        {
            Error(specPath, "missing: a " + manifest.Kind + " needs a pod spec here");
            return null;
        }
        var metadata = manifest.At(manifest.PodMetadataPath) as YamlMappingNode;
        ReadStringMap(metadata, "annotations", (key, value, path) => _annotations.Add((key, value, path)));
        ReadStringMap(metadata, "labels", (key, value, _) => _labels.Add((key, value)));

        if (!WithinContainerLimit(spec, specPath))
        {
            return null;
        }
        _podRestartPolicy = spec.GetText("restartPolicy");
        ReadContainers(spec, specPath);
        if (_containers.Count == 0)
        {
            return null;
        }
        CheckNames();
        ReadAnnotations(out bool? nativeSidecars, out ProxyKind? proxyAnnotation, out BinaryDelivery? delivery);
        foreach (Container container in _containers)
        {
            options.Cancellation.ThrowIfCancellationRequested();
            ResolveSettings(container);
            ReadCommand(container);
        }
        ResolveGates();
        ResolveObserves();
        ResolveStreams();
        if (_containers.All(c => c.IsSidecar))
        {
            Error(specPath + ".containers", "every container is a sidecar: there is no step for them to be sidecars of");
        }
        FindCycles(specPath + ".containers");
        FindStreamCycles(specPath + ".containers");
        if (_errorCount == 0)
        {
            CheckStreamOrder(specPath + ".containers");
            CheckResultReferences();
        }
        ProxyKind proxy = proxyAnnotation ?? DetectProxy();
        if (_errorCount > 0)
        {
            return null;
        }

        var steps = _containers.Select(c => BuildStep(c, proxy)).ToArray();
        var graph = new PodGraph
        {
            Manifest = manifest,
            Steps = steps,
            NativeSidecars = nativeSidecars ?? (options.NativeSidecars || _containers.Any(c => c.InInit)),
            Proxy = proxy,
            Delivery = delivery ?? options.Delivery ?? PodInjection.WiredDelivery(manifest) ?? BinaryDelivery.Init,
        };
        return graph with { Warnings = Warn(graph, specPath + ".containers") };
    }

    // ---- containers ----------------------------------------------------------------------------

    /// <summary>
    /// The container limit, checked on the lists' lengths before any container is read; emissary's
    /// own init container is not counted, so that a rewritten pod can be rewritten again.
    /// </summary>
    private bool WithinContainerLimit(YamlMappingNode spec, string specPath)
    {
        long count = (spec.Get("containers") as YamlSequenceNode)?.Children.Count ?? 0;
        if (spec.Get("initContainers") is YamlSequenceNode inits)
        {
            count += inits.Children.Count(c => c is not YamlMappingNode init || init.GetText("name") != EmissaryRun.InitContainerName);
        }
        if (count <= options.Limits.MaxContainers)
        {
            return true;
        }
        Error(specPath + ".containers", $"{count} containers (init containers included) is more than the limit of {options.Limits.MaxContainers} per pod");
        return false;
    }

    private void ReadContainers(YamlMappingNode spec, string specPath)
    {
        if (spec.Get("initContainers") is YamlSequenceNode inits)
        {
            for (int i = 0; i < inits.Children.Count; i++)
            {
                string path = $"{specPath}.initContainers[{i}]";
                if (inits.Children[i] is not YamlMappingNode node)
                {
                    continue; // not ours to judge
                }
                string? name = node.GetText("name");
                if (name == EmissaryRun.InitContainerName)
                {
                    continue;
                }
                if (WrappedRunOf(node) is not null)
                {
                    _containers.Add(new Container(path, node, inInit: true));
                    continue;
                }
                if (name is not null)
                {
                    _userInitContainers.TryAdd(name, path);
                }
                foreach (string key in Keys(node).Where(k => StepFields.Find(k) is not null))
                {
                    Error($"{path}.{key}", "emissary settings apply to containers, not to init containers");
                }
            }
        }

        if (spec.Get("containers") is not YamlSequenceNode containers || containers.Children.Count == 0)
        {
            Error(specPath + ".containers", "missing: a pod needs at least one container");
            return;
        }
        for (int i = 0; i < containers.Children.Count; i++)
        {
            string path = $"{specPath}.containers[{i}]";
            if (containers.Children[i] is YamlMappingNode node)
            {
                _containers.Add(new Container(path, node, inInit: false));
            }
            else
            {
                Error(path, "expected a container (a mapping)");
            }
        }

        foreach (Container container in _containers)
        {
            options.Cancellation.ThrowIfCancellationRequested();
            container.Wrapped = WrappedRunOf(container.Node);
            foreach (KeyValuePair<YamlNode, YamlNode> entry in container.Node.Children)
            {
                if (entry.Key is not YamlScalarNode { Value: var value })
                {
                    continue;
                }
                string key = value ?? "";
                if (StepFields.Find(key) is { } field)
                {
                    container.Declarations[field] = new Declarations { Field = FieldDeclaration(container, field, key) };
                }
                else if (!StepFields.KubernetesContainerFields.Contains(key) && DidYouMean.Closest(key, StepFields.Names) is { } guess)
                {
                    Error($"{container.Path}.{key}", $"unknown field \"{key}\" (did you mean \"{guess}\"?)");
                }
            }
            if (container.Wrapped is { } wrapped)
            {
                AddCommandDeclarations(container, wrapped);
            }
        }
    }

    // Only a command that starts with the binary and "run" can be one (ParseWrapped's test), checked before any array is made.
    private static WrappedRun? WrappedRunOf(YamlMappingNode node) =>
        node.Get("command") is YamlSequenceNode { Children: [YamlScalarNode { Value: EmissaryRun.Binary }, YamlScalarNode { Value: "run" }, ..] } command
        && command.Children.All(c => c is YamlScalarNode)
            ? EmissaryRun.ParseWrapped(command.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToArray())
            : null;

    private void CheckNames()
    {
        var seen = new Dictionary<string, string>(_userInitContainers, StringComparer.Ordinal);
        foreach (Container container in _containers)
        {
            string? name = container.Node.GetText("name");
            string path = container.Path + ".name";
            if (name is null)
            {
                Error(path, "missing");
            }
            else if (!ControlDirectory.IsValidName(name))
            {
                Error(path, $"\"{name}\" is not a valid step name: {ControlDirectory.NameRule}");
            }
            else if (name == EmissaryRun.InitContainerName)
            {
                Error(path, $"\"{name}\" is the name of emissary's init container");
            }
            else if (seen.TryGetValue(name, out string? first))
            {
                Error(path, $"duplicate container name \"{name}\" (also {first})");
            }
            else
            {
                seen[name] = container.Path;
                container.Name = name;
                _byName[name] = container;
            }
        }
    }

    // ---- declarations: fields, annotations, rewritten commands ---------------------------------

    private Declaration? FieldDeclaration(Container container, StepField field, string key)
    {
        string path = $"{container.Path}.{key}";
        YamlNode node = container.Node.Get(key)!;
        if (StepFields.IsList(field))
        {
            switch (node)
            {
                case YamlSequenceNode sequence:
                    var items = new List<Item>();
                    for (int i = 0; i < sequence.Children.Count; i++)
                    {
                        if (sequence.Children[i] is YamlScalarNode { Value: { Length: > 0 } name })
                        {
                            items.Add(new Item(name.Trim(), $"{path}[{i}]"));
                        }
                        else
                        {
                            Error($"{path}[{i}]", "expected a container name");
                            return null;
                        }
                    }
                    return new Declaration(items, path, "[" + string.Join(", ", items.Select(i => i.Text)) + "]");
                case YamlScalarNode scalar:
                    string text = YamlNodes.IsNull(scalar) ? "" : scalar.Value ?? "";
                    return new Declaration(SplitList(text, path), path, Quote(text));
                default:
                    Error(path, "expected a list of container names");
                    return null;
            }
        }
        if (field == StepField.Breakpoint && node is YamlSequenceNode kinds && kinds.Children.All(k => k is YamlScalarNode))
        {
            // breakpoint: [before, on-failure] reads as "before,on-failure"
            string joined = string.Join(",", kinds.Children.Select(k => ((YamlScalarNode)k).Value?.Trim() ?? ""));
            return new Declaration([new Item(joined, path)], path, "[" + joined.Replace(",", ", ") + "]");
        }
        if (node is not YamlScalarNode value || YamlNodes.IsNull(value))
        {
            Error(path, node is YamlScalarNode ? "expected a value" : "expected a single value");
            return null;
        }
        return new Declaration([new Item(value.Value!.Trim(), path)], path, Quote(value.Value!));
    }

    private void AddCommandDeclarations(Container container, WrappedRun wrapped)
    {
        string path = container.Path + ".command";
        var byField = new Dictionary<StepField, List<Item>>();
        foreach ((StepField field, string value) in wrapped.Settings)
        {
            if (!byField.TryGetValue(field, out List<Item>? items))
            {
                byField[field] = items = [];
            }
            if (StepFields.IsList(field))
            {
                items.AddRange(SplitList(value, path));
            }
            else if (field == StepField.Breakpoint && items.Count > 0)
            {
                items[0] = items[0] with { Text = items[0].Text + "," + value }; // repeated --breakpoint flags add up, as in emissary run
            }
            else
            {
                items.Clear(); // the last one wins, as in emissary run
                items.Add(new Item(field == StepField.Sidecar ? "true" : value, path));
            }
        }
        if (container.InInit)
        {
            byField[StepField.Sidecar] = [new Item("true", path)];
        }
        foreach ((StepField field, List<Item> items) in byField)
        {
            Declarations declarations = container.DeclarationsOf(field);
            declarations.Command = new Declaration(items, path, Quote(string.Join(",", items.Select(i => i.Text))));
        }
    }

    private void ReadAnnotations(out bool? nativeSidecars, out ProxyKind? proxy, out BinaryDelivery? delivery)
    {
        nativeSidecars = null;
        proxy = null;
        delivery = null;
        foreach ((string key, string value, string path) in _annotations)
        {
            if (!key.StartsWith(StepFields.AnnotationPrefix, StringComparison.Ordinal))
            {
                continue;
            }
            string rest = key[StepFields.AnnotationPrefix.Length..];
            int dot = rest.LastIndexOf('.');
            if (dot < 0)
            {
                switch (rest)
                {
                    case NativeSidecarsAnnotation:
                        if (StepFields.TryParseBoolean(value, out bool native))
                        {
                            nativeSidecars = native;
                        }
                        else
                        {
                            Error(path, $"\"{value}\" is not true or false");
                        }
                        break;
                    case ProxyAnnotation:
                        proxy = value.Trim().ToLowerInvariant() switch
                        {
                            "istio" => ProxyKind.Istio,
                            "linkerd" => ProxyKind.Linkerd,
                            "none" => ProxyKind.None,
                            _ => null,
                        };
                        if (proxy is null)
                        {
                            Error(path, $"unknown proxy \"{value}\" (use istio, linkerd or none)");
                        }
                        break;
                    case PodInjection.DeliveryAnnotation:
                        delivery = BinaryDeliveries.Parse(value);
                        if (delivery is null)
                        {
                            Error(path, $"unknown delivery \"{value}\" (use {string.Join(" or ", BinaryDeliveries.Names.Select(n => n.Name))})");
                        }
                        break;
                    case BreakpointAnnotation:
                        ReadBreakpointAnnotation(key, value, path);
                        break;
                    case PodInjection.InjectAnnotation:
                        if (!StepFields.TryParseBoolean(value, out _))
                        {
                            Error(path, $"\"{value}\" is not true or false");
                        }
                        break;
                    default:
                        Error(path, $"unknown annotation{Suggest(rest, PodAnnotations, StepFields.AnnotationPrefix)} (emissary.dev/ takes native-sidecars, proxy, inject, delivery, breakpoint and CONTAINER.FIELD)");
                        break;
                }
                continue;
            }

            string containerName = rest[..dot];
            string fieldName = rest[(dot + 1)..];
            if (StepFields.Find(fieldName) is not { } field)
            {
                Error(path, $"unknown field \"{fieldName}\"{Suggest(fieldName, StepFields.Names)}");
                continue;
            }
            if (!_byName.TryGetValue(containerName, out Container? container))
            {
                Error(path, _userInitContainers.ContainsKey(containerName)
                    ? $"\"{containerName}\" is an init container: emissary settings apply to containers only"
                    : $"unknown container \"{containerName}\"{SuggestStep(containerName)}");
                continue;
            }
            List<Item> items = StepFields.IsList(field) ? SplitList(value, path) : [new Item(value.Trim(), path)];
            if (container.DeclarationsOf(field).Annotation is { } other && other.AnnotationKey != key)
            {
                // only breakpoint has a second annotation form (emissary.dev/breakpoint)
                Error(path, $"the breakpoints of \"{containerName}\" are also given by annotation \"{other.AnnotationKey}\": give them once");
                continue;
            }
            container.DeclarationsOf(field).Annotation = new Declaration(items, path, Quote(value), key);
        }
    }

    /// <summary>
    /// <c>emissary.dev/breakpoint: "build=on-failure,test=before+after"</c>: the breakpoints of
    /// several steps in one annotation, which is easier to add with <c>kubectl annotate</c> than one
    /// <c>emissary.dev/STEP.breakpoint</c> each. Each entry is an annotation declaration of that step's
    /// <c>breakpoint</c> field (so a container field that disagrees is an error, as for any annotation);
    /// the same step in both annotation forms, or twice here, is an error rather than a silent choice.
    /// </summary>
    private void ReadBreakpointAnnotation(string key, string value, string path)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string entry in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = entry.IndexOf('=');
            if (equals <= 0)
            {
                Error(path, $"\"{entry}\" is not STEP=KINDS (e.g. build=on-failure or build=before+on-failure)");
                continue;
            }
            string step = entry[..equals].Trim();
            string kinds = entry[(equals + 1)..].Trim();
            if (!_byName.TryGetValue(step, out Container? container))
            {
                Error(path, _userInitContainers.ContainsKey(step)
                    ? $"\"{step}\" is an init container: emissary settings apply to containers only"
                    : $"unknown container \"{step}\"{SuggestStep(step)}");
                continue;
            }
            if (!seen.Add(step))
            {
                Error(path, $"\"{step}\" is given twice: join its kinds with '+' (e.g. {step}=before+on-failure)");
                continue;
            }
            Declarations declarations = container.DeclarationsOf(StepField.Breakpoint);
            if (declarations.Annotation is { } other && other.AnnotationKey != key)
            {
                Error(path, $"the breakpoints of \"{step}\" are also given by annotation \"{other.AnnotationKey}\": give them once");
                continue;
            }
            declarations.Annotation = new Declaration([new Item(kinds, path)], path, Quote(kinds), key);
        }
    }

    // ---- resolving each setting ----------------------------------------------------------------

    private void ResolveSettings(Container container)
    {
        foreach ((StepField field, Declarations declarations) in container.Declarations)
        {
            if (StepFields.IsList(field))
            {
                if (Choose(declarations, _ => true, SameNames) is { } names)
                {
                    container.ListItems[field] = names.Items;
                }
                continue;
            }
            Declaration? chosen = Choose(declarations, d => Parse(field, d), (a, b) => Equals(a.Value, b.Value));
            if (chosen is not null)
            {
                container.Settings[field] = chosen.Value!;
                container.SettingPaths[field] = chosen.Items[^1].Path;
            }
        }
    }

    /// <summary>Field, else annotation, else rewritten command; a field and an annotation must agree.</summary>
    private Declaration? Choose(Declarations declarations, Func<Declaration, bool> valid, Func<Declaration, Declaration, bool> same)
    {
        Declaration? fromField = declarations.Field is { } f && valid(f) ? f : null;
        Declaration? fromAnnotation = declarations.Annotation is { } a && valid(a) ? a : null;
        Declaration? fromCommand = declarations.Command is { } c && valid(c) ? c : null;
        if (fromField is not null && fromAnnotation is not null && !same(fromField, fromAnnotation))
        {
            Error(fromField.Path, $"{fromField.Display} disagrees with annotation \"{fromAnnotation.AnnotationKey}\" ({fromAnnotation.Display})");
            return null;
        }
        return fromField ?? fromAnnotation ?? fromCommand;
    }

    private bool Parse(StepField field, Declaration declaration)
    {
        Item item = declaration.Items[^1];
        if (StepFields.TryParse(field, item.Text, out object? value, out string? error))
        {
            declaration.Value = value;
            return true;
        }
        Error(item.Path, error!);
        return false;
    }

    private static bool SameNames(Declaration a, Declaration b) =>
        a.Items.Select(i => i.Text).ToHashSet(StringComparer.Ordinal).SetEquals(b.Items.Select(i => i.Text));

    private void ReadCommand(Container container)
    {
        YamlMappingNode node = container.Node;
        List<YamlNode>? args = StringNodes(container, "args");
        if (container.Wrapped is { } wrapped)
        {
            var command = (YamlSequenceNode)node.Get("command")!;
            if (wrapped.CommandStart < 0)
            {
                Error(container.Path + ".command", $"starts like a rewritten command ({EmissaryRun.Binary} run) but has no \"--\" followed by the command");
                return;
            }
            container.CommandNodes = [.. command.Children.Skip(wrapped.CommandStart), .. args ?? []];
            return;
        }
        List<YamlNode>? commandNodes = StringNodes(container, "command");
        if (commandNodes is { Count: > 0 })
        {
            container.CommandNodes = [.. commandNodes, .. args ?? []];
            return;
        }
        // No command: Kubernetes runs the image's ENTRYPOINT, with args (or else the image's CMD) after it.
        string? image = node.GetText("image");
        if (image is not null && options.Entrypoints?.Find(image) is { } entry)
        {
            List<YamlNode> resolved = [.. entry.Entrypoint.Select(FromImage), .. args is { Count: > 0 } ? args : entry.Cmd.Select(FromImage)];
            container.CommandNodes = resolved.Count > 0 ? resolved : null;
        }
    }

    // Text from the image is not subject to Kubernetes' $(VAR) expansion; in `command` it would be, unless escaped as $$.
    private static YamlNode FromImage(string text) => YamlNodes.String(text.Replace("$", "$$"));

    private List<YamlNode>? StringNodes(Container container, string key)
    {
        switch (container.Node.Get(key))
        {
            case null:
                return null;
            case YamlScalarNode scalar when YamlNodes.IsNull(scalar):
                return [];
            case YamlSequenceNode sequence when sequence.Children.All(c => c is YamlScalarNode):
                return [.. sequence.Children];
            default:
                Error($"{container.Path}.{key}", "expected a list of strings");
                return null;
        }
    }

    // ---- the graph -----------------------------------------------------------------------------

    private void ResolveGates()
    {
        Dictionary<string, int> order = PodOrder();
        foreach (Container container in _containers)
        {
            var gates = new HashSet<string>(StringComparer.Ordinal);
            foreach (Item item in container.ListItems.GetValueOrDefault(StepField.WaitForTermination) ?? [])
            {
                string name = item.Text;
                Container? target = _byName.GetValueOrDefault(name);
                if (name == container.Name)
                {
                    Error(item.Path, $"container \"{name}\" cannot wait for itself");
                }
                else if (target is null)
                {
                    Error(item.Path, _userInitContainers.ContainsKey(name)
                        ? $"\"{name}\" is an init container: it has ended before any container starts, so there is nothing to wait for"
                        : $"unknown container \"{name}\"{SuggestStep(name, container.Name)}");
                }
                else if (target.IsSidecar)
                {
                    Error(item.Path, $"\"{name}\" is a sidecar: it runs until the steps are over, so waiting for it to end would never end");
                }
                else
                {
                    gates.Add(name);
                }
            }
            // In the pod's order, whatever order they were declared in: the same pod always gives the same command.
            container.Gates = gates.OrderBy(g => order[g]).ToArray();
        }
    }

    /// <summary>Each named container's position in the pod: lists of names are written in this order, so the same pod always gives the same command.</summary>
    private Dictionary<string, int> PodOrder() =>
        _containers.Where(c => c.Name is not null).Select((c, i) => (c.Name!, i)).ToDictionary(p => p.Item1, p => p.i, StringComparer.Ordinal);

    /// <summary>
    /// <c>observes: [STEP, ...]</c>: other containers of the pod (steps or sidecars: each has a
    /// record), in the pod's order. Nothing waits on them; they only become read-only mounts.
    /// </summary>
    private void ResolveObserves()
    {
        Dictionary<string, int>? order = null;
        foreach (Container container in _containers)
        {
            if (container.ListItems.GetValueOrDefault(StepField.Observes) is not { } items)
            {
                continue;
            }
            var observed = new HashSet<string>(StringComparer.Ordinal);
            foreach (Item item in items)
            {
                string name = item.Text;
                if (name == container.Name)
                {
                    Error(item.Path, $"container \"{name}\" cannot observe itself (its own record is always mounted)");
                }
                else if (!_byName.ContainsKey(name))
                {
                    Error(item.Path, _userInitContainers.ContainsKey(name)
                        ? $"\"{name}\" is an init container: it has no record to observe"
                        : $"unknown container \"{name}\"{SuggestStep(name, container.Name)}");
                }
                else
                {
                    observed.Add(name);
                }
            }
            order ??= PodOrder();
            container.Observes = observed.OrderBy(o => order[o]).ToArray();
        }
    }

    /// <summary>
    /// <c>stdinFrom: PRODUCER</c>: a step, not itself, not a sidecar; one consumer per producer
    /// (fan-out is refused: which consumer would get which bytes?); no retries on either side (a
    /// stream is read once).
    /// </summary>
    private void ResolveStreams()
    {
        var consumers = new Dictionary<string, Container>(StringComparer.Ordinal);
        foreach (Container container in _containers)
        {
            if (!container.Settings.TryGetValue(StepField.StdinFrom, out object? value))
            {
                continue;
            }
            string name = (string)value;
            string path = container.SettingPaths[StepField.StdinFrom];
            Container? producer = _byName.GetValueOrDefault(name);
            if (name == container.Name)
            {
                Error(path, $"container \"{name}\" cannot read its own output");
            }
            else if (producer is null)
            {
                Error(path, _userInitContainers.ContainsKey(name)
                    ? $"\"{name}\" is an init container: it has ended before any container starts, so there is nothing to stream"
                    : $"unknown container \"{name}\"{SuggestStep(name, container.Name)}");
            }
            else if (producer.IsSidecar || container.IsSidecar)
            {
                Error(path, $"\"{(container.IsSidecar ? container.Name : name)}\" is a sidecar: streams connect steps");
            }
            else if (consumers.TryGetValue(name, out Container? first))
            {
                Error(path, $"\"{name}\" already streams its stdout to \"{first.Name}\" ({first.SettingPaths[StepField.StdinFrom]}): one producer has one consumer (fan-out is not supported: tee inside the producer, or chain the consumers)");
            }
            else if (new[] { container, producer }.FirstOrDefault(c => c.Settings.TryGetValue(StepField.Retries, out object? r) && (int)r > 0) is { } retried)
            {
                Error(path, $"\"{retried.Name}\" has retries: a streamed step runs once (its stream is read once)");
            }
            else
            {
                consumers[name] = container;
                container.StdinFrom = name;
                producer.StdoutTo = container.Name;
            }
        }
    }

    /// <summary>
    /// The steps <paramref name="container"/> waits for, directly or through others (the graph has
    /// no cycle): one walk over its upstream gates, O(steps + gates).
    /// </summary>
    private HashSet<string> Upstream(Container container)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var work = new Stack<string>(container.Gates);
        while (work.TryPop(out string? name))
        {
            if (seen.Add(name) && _byName.TryGetValue(name, out Container? next))
            {
                foreach (string gate in next.Gates)
                {
                    work.Push(gate);
                }
            }
        }
        return seen;
    }

    /// <summary>
    /// <c>stdinFrom</c> pointers that come back: <c>a</c> reads <c>b</c>'s stdout and <c>b</c>
    /// reads <c>a</c>'s, so each waits for the other to start. Each container reads from one
    /// producer at most, so following the pointers from each container once finds every cycle.
    /// </summary>
    private void FindStreamCycles(string path)
    {
        var state = new Dictionary<Container, int>(ReferenceEqualityComparer.Instance); // 1: on this walk, 2: done
        var position = new Dictionary<Container, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < _containers.Count; i++)
        {
            position[_containers[i]] = i;
        }
        int shown = 0;
        foreach (Container start in _containers)
        {
            var walk = new List<Container>();
            Container? current = start;
            while (current is not null && !state.ContainsKey(current))
            {
                state[current] = 1;
                walk.Add(current);
                current = current.StdinFrom is { } producer ? _byName.GetValueOrDefault(producer) : null;
            }
            if (current is not null && state[current] == 1 && shown++ < MaxCyclesShown)
            {
                // The walk went from consumers to producers; the message follows the bytes, from the
                // cycle's first container in the pod's order.
                List<Container> cycle = walk[walk.IndexOf(current)..];
                cycle.Reverse();
                int first = 0; // the one first in the pod (a walk's containers are in no particular order)
                for (int i = 1; i < cycle.Count; i++)
                {
                    first = position[cycle[i]] < position[cycle[first]] ? i : first;
                }
                List<Container> ordered = [.. cycle[first..], .. cycle[..first], cycle[first]];
                Error(path, "streams form a cycle: " + string.Join(" -> ", ordered.Select(c => c.Name)) + " (each one's stdout is the next one's stdin: none can start before another has)");
            }
            foreach (Container walked in walk)
            {
                state[walked] = 2;
            }
        }
    }

    /// <summary>
    /// The steps joined by streams start together: a producer's command starts once its consumer
    /// has opened the stream, which the consumer does once its other gates are open. So a step
    /// that waits, directly or through other steps, for the end of a step of its own stream (or of
    /// a stream whose steps wait for its own) waits forever. Each stream taken as one node, that
    /// is a cycle of the gates between streams: one search, linear in steps and gates.
    /// </summary>
    private void CheckStreamOrder(string path)
    {
        Container[] named = _containers.Where(c => c.Name is not null).ToArray();
        var index = new Dictionary<Container, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < named.Length; i++)
        {
            index[named[i]] = i;
        }
        // Each stream's node: the index of its first producer (no stream cycles here: checked before).
        var streamOf = new int[named.Length];
        bool anyStream = false;
        for (int i = 0; i < named.Length; i++)
        {
            Container head = named[i];
            if (head.StdinFrom is not null)
            {
                continue;
            }
            streamOf[i] = i;
            for (Container? c = head; c.StdoutTo is { } consumer && _byName.TryGetValue(consumer, out c);)
            {
                streamOf[index[c]] = i;
                anyStream = true;
            }
        }
        if (!anyStream)
        {
            return; // gates alone: their cycles are reported by FindCycles
        }
        var edges = new List<(Container Waiter, Container Waited, int To)>[named.Length];
        for (int i = 0; i < named.Length; i++)
        {
            foreach (string gate in named[i].Gates)
            {
                Container waited = _byName[gate];
                int to = streamOf[index[waited]];
                (edges[streamOf[i]] ??= []).Add((named[i], waited, to));
            }
        }
        IReadOnlyList<(Container Waiter, Container Waited, int To)> none = [];
        foreach (var cycle in GraphCycles.Find(named.Length, n => edges[n] ?? none, e => e.To, MaxCyclesShown))
        {
            Error(path, DescribeStreamDeadlock(cycle));
        }
    }

    /// <summary>
    /// A cycle of gates between streams in words: who waits for whose end, and which steps are one
    /// stream, e.g. <c>"sink" waits for "gen" to end (through "mid"); "gen" and "sink" are one stream (gen | sink)</c>.
    /// </summary>
    private string DescribeStreamDeadlock(List<(Container Waiter, Container Waited, int To)> cycle)
    {
        // Start right after a hop inside a stream (a gate cycle without one is reported by FindCycles).
        int start = Enumerable.Range(0, cycle.Count).First(i => cycle[i].Waited != cycle[(i + 1) % cycle.Count].Waiter);
        var parts = new List<string>();
        var through = new List<string>();
        Container? waiter = null;
        for (int k = 1; k <= cycle.Count; k++)
        {
            (Container from, Container to, _) = cycle[(start + k) % cycle.Count];
            waiter ??= from;
            Container next = cycle[(start + k + 1) % cycle.Count].Waiter;
            if (to == next)
            {
                through.Add($"\"{to.Name}\"");
                continue;
            }
            parts.Add($"\"{waiter.Name}\" waits for \"{to.Name}\" to end (waitForTermination{(through.Count > 0 ? ", through " + string.Join(", ", through) : "")})");
            parts.Add($"\"{to.Name}\" and \"{next.Name}\" are one stream ({string.Join(" | ", StreamOf(to).Select(c => c.Name))})");
            through.Clear();
            waiter = null;
        }
        return string.Join("; ", parts) + ": the steps of a stream run at the same time, so none of them can end before all have started";
    }

    /// <summary>The steps of <paramref name="member"/>'s stream, from its first producer to its last consumer.</summary>
    private List<Container> StreamOf(Container member)
    {
        Container head = member;
        while (head.StdinFrom is { } producer && _byName.TryGetValue(producer, out Container? previous))
        {
            head = previous;
        }
        var chain = new List<Container> { head };
        while (chain[^1].StdoutTo is { } consumer && _byName.TryGetValue(consumer, out Container? next))
        {
            chain.Add(next);
        }
        return chain;
    }

    /// <summary>
    /// <c>$(steps.NAME.results.KEY)</c> in a container's command, args or env values: NAME must be
    /// upstream of it (its results exist once it has ended), and a result is one file of bytes (no
    /// array or object selectors).
    /// </summary>
    private void CheckResultReferences()
    {
        foreach (Container container in _containers.Where(c => c.Name is not null))
        {
            HashSet<string>? upstream = null;
            foreach ((string text, string key, int index) in ReferenceTexts(container.Node))
            {
                if (!Results.StepResultReferences.Contains(text))
                {
                    continue; // most texts: no reference, and no path or list made for them
                }
                string path = key == "env" ? $"{container.Path}.env[{index}].value" : $"{container.Path}.{key}[{index}]";
                foreach (Results.StepResultReference reference in Results.StepResultReferences.Find(text))
                {
                    upstream ??= Upstream(container);
                    string? problem = reference.Step == container.Name ? $"{reference}: a step cannot read its own results"
                        : !_byName.ContainsKey(reference.Step) ? $"{reference}: unknown container \"{reference.Step}\"{(upstream.Count == 0 ? SuggestStep(reference.Step, container.Name) : _nameSuggestionsLeft-- > 0 ? Suggest(reference.Step, upstream) : "")}"
                        : !upstream.Contains(reference.Step) ? $"{reference}: \"{reference.Step}\" is not upstream of \"{container.Name}\" (its results exist once it has ended): add it to waitForTermination{(upstream.Count > 0 ? $" (upstream: {Listed(upstream)})" : "")}"
                        : reference.Selector.Length > 0 ? $"{reference}: array and object results are not supported (a result is one file of bytes)"
                        : null;
                    if (problem is not null)
                    {
                        Error(path, problem);
                    }
                    else
                    {
                        (container.ResultSources ??= new HashSet<string>(StringComparer.Ordinal)).Add(reference.Step);
                    }
                }
            }
        }
    }

    private static readonly string[] ReferenceLists = ["command", "args"];

    /// <summary>The texts that may hold result references, each with where it is: the list's name and the index in it.</summary>
    private static IEnumerable<(string Text, string Key, int Index)> ReferenceTexts(YamlMappingNode node)
    {
        foreach (string key in ReferenceLists)
        {
            if (node.Get(key) is YamlSequenceNode sequence)
            {
                for (int i = 0; i < sequence.Children.Count; i++)
                {
                    if (sequence.Children[i] is YamlScalarNode { Value: { } text })
                    {
                        yield return (text, key, i);
                    }
                }
            }
        }
        if (node.Get("env") is YamlSequenceNode env)
        {
            for (int i = 0; i < env.Children.Count; i++)
            {
                if (env.Children[i] is YamlMappingNode entry && entry.GetText("value") is { } value && entry.GetText("name") is { } name && !name.StartsWith("EMISSARY_", StringComparison.Ordinal))
                {
                    yield return (value, "env", i);
                }
            }
        }
    }

    /// <summary>Reports each cycle of gates once (at most <see cref="MaxCyclesShown"/>), as "a -> b -> a" where "a -> b" means a waits for b.</summary>
    private void FindCycles(string path)
    {
        Container[] named = _containers.Where(c => c.Name is not null).ToArray();
        var index = new Dictionary<string, int>(named.Length, StringComparer.Ordinal);
        for (int i = 0; i < named.Length; i++)
        {
            index[named[i].Name!] = i;
        }
        var targets = new int[named.Length][];
        for (int i = 0; i < named.Length; i++)
        {
            targets[i] = named[i].Gates.Select(g => index[g]).ToArray();
        }
        foreach (List<int> cycle in GraphCycles.Find(named.Length, n => targets[n], to => to, MaxCyclesShown))
        {
            int first = cycle[^1]; // the last edge closes the cycle where it began
            Error(path, "cycle: " + string.Join(" -> ", cycle.Select(to => named[to].Name).Prepend(named[first].Name)));
        }
    }

    private ProxyKind DetectProxy()
    {
        bool istio = _labels.Concat(_annotations.Select(a => (a.Key, a.Value)))
            .Any(p => p.Key == "sidecar.istio.io/inject" && string.Equals(p.Value.Trim(), "true", StringComparison.OrdinalIgnoreCase));
        bool linkerd = _annotations.Any(a => a.Key == "linkerd.io/inject" && a.Value.Trim() == "enabled");
        if (istio && linkerd)
        {
            Error(manifest.PodMetadataPath, "both Istio (sidecar.istio.io/inject) and Linkerd (linkerd.io/inject) injection are asked for: say which proxy the steps use with the annotation emissary.dev/proxy");
        }
        return istio ? ProxyKind.Istio : linkerd ? ProxyKind.Linkerd : ProxyKind.None;
    }

    private StepSpec BuildStep(Container container, ProxyKind proxy)
    {
        YamlMappingNode node = container.Node;
        var env = new List<EnvVar>();
        var valueFrom = new List<string>();
        if (node.Get("env") is YamlSequenceNode entries)
        {
            foreach (YamlMappingNode entry in entries.Children.OfType<YamlMappingNode>())
            {
                if (entry.GetText("name") is not { } name)
                {
                    continue;
                }
                if (entry.Get("valueFrom") is not null)
                {
                    valueFrom.Add(name);
                }
                else
                {
                    env.Add(new EnvVar(name, entry.GetText("value") ?? ""));
                }
            }
        }
        bool sidecar = container.IsSidecar;
        T? Setting<T>(StepField field) where T : struct => container.Settings.TryGetValue(field, out object? v) ? (T)v : null;
        return new StepSpec
        {
            Name = container.Name!,
            Image = node.GetText("image"),
            Command = container.CommandNodes?.Select(n => ((YamlScalarNode)n).Value ?? "").ToArray(),
            CommandNodes = container.CommandNodes,
            Env = env,
            EnvValueFrom = valueFrom,
            WorkingDir = node.GetText("workingDir"),
            TerminationMessagePath = node.GetText("terminationMessagePath") is { } tmp && tmp != "/dev/termination-log" ? tmp : null,
            Role = sidecar ? StepRole.Sidecar : StepRole.Step,
            Gates = container.Gates,
            Observes = container.Observes,
            Timeout = Setting<TimeSpan>(StepField.Timeout),
            Retries = Setting<int>(StepField.Retries),
            RetryDelay = Setting<TimeSpan>(StepField.RetryDelay),
            OnError = Setting<OnErrorPolicy>(StepField.OnError),
            WaitForStart = Setting<bool>(StepField.WaitForStart) ?? false,
            RunOnUpstreamFailure = Setting<bool>(StepField.RunOnUpstreamFailure) ?? false,
            ResultFromStdout = container.Settings.TryGetValue(StepField.ResultFromStdout, out object? result) ? (string)result : null,
            StdinFrom = container.StdinFrom,
            StdoutTo = container.StdoutTo,
            ResultSources = container.ResultSources?.ToArray() ?? [],
            StopSignal = Setting<int>(StepField.StopSignal) ?? ContainerStopSignal(node),
            // A native sidecar's restartPolicy (Always, among the init containers) is what makes it one, not a retry policy.
            RestartPolicy = container.InInit ? null : node.GetText("restartPolicy") ?? _podRestartPolicy,
            RestartRules = !container.InInit && node.Get("restartPolicyRules") is YamlSequenceNode rules ? CompactJson(rules) : null,
            Grace = Setting<TimeSpan>(StepField.Grace),
            Breakpoints = Setting<PausePoint>(StepField.Breakpoint) ?? PausePoint.None,
            Proxy = sidecar ? ProxyKind.None : proxy,
            ExtraRunArguments = container.Wrapped?.ExtraArguments ?? [],
            Path = container.Path,
            InInitContainers = container.InInit,
            Node = node,
        };
    }

    private static IReadOnlyList<ManifestError> Warn(PodGraph graph, string path)
    {
        string? proxy = EmissaryRun.ProxyPreset(graph.Proxy);
        string[] finals = graph.Steps.Where(graph.IsFinal).Select(s => $"\"{s.Name}\"").ToArray();
        if (proxy is null || finals.Length < 2)
        {
            return [];
        }
        string names = string.Join(", ", finals[..^1]) + " and " + finals[^1];
        return
        [
            new ManifestError(graph.Manifest.SourceName, graph.Manifest.DisplayName, graph.Manifest.PathPrefix + path,
                $"steps {names} can end last, in parallel, and each tells the {proxy} proxy to quit when it ends, which cuts the network of the others still running: make one wait for the others (waitForTermination)"),
        ];
    }

    // ---- helpers -------------------------------------------------------------------------------

    /// <summary>
    /// The container's <c>lifecycle.stopSignal</c> (KEP-4960: what the runtime stops it with), kept
    /// in the container and passed on as <c>--stop-signal</c>, so emissary as PID 1 treats it as
    /// it treats SIGTERM; null when absent or not a signal (the API server refuses those).
    /// </summary>
    private static int? ContainerStopSignal(YamlMappingNode node) =>
        node.Get("lifecycle") is YamlMappingNode lifecycle && lifecycle.GetText("stopSignal") is { } text &&
        Emissary.Events.Signals.TryParse(text, out int signal) ? signal : null;

    private static string CompactJson(YamlNode node)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            JsonManifests.WriteNode(writer, node);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private void Error(string path, string message)
    {
        errors.Add(new ManifestError(manifest.SourceName, manifest.DisplayName, manifest.PathPrefix + path, message));
        _errorCount++;
    }

    /// <summary>
    /// " (did you mean ...?)" from the step names other than <paramref name="except"/>: a search
    /// over every step, so only the first <see cref="MaxNameSuggestions"/> errors of a pod get one.
    /// </summary>
    private string SuggestStep(string input, string? except = null) =>
        _nameSuggestionsLeft-- > 0 ? Suggest(input, _byName.Keys.Where(n => n != except)) : "";

    /// <summary>Names sorted, at most <see cref="MaxUpstreamsShown"/>, then how many more.</summary>
    private static string Listed(IEnumerable<string> names)
    {
        string[] all = names.Order(StringComparer.Ordinal).ToArray();
        return all.Length <= MaxUpstreamsShown ? string.Join(", ", all)
            : string.Join(", ", all[..MaxUpstreamsShown]) + $" and {all.Length - MaxUpstreamsShown} more";
    }

    private static string Suggest(string input, IEnumerable<string> candidates, string prefix = "") =>
        DidYouMean.Closest(input, candidates) is { } guess ? $" (did you mean \"{prefix}{guess}\"?)" : "";

    private static string Quote(string text) => "\"" + text + "\"";

    private static List<Item> SplitList(string text, string path) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => new Item(n, path)).ToList();

    private static IEnumerable<string> Keys(YamlMappingNode node) =>
        node.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? "");

    private void ReadStringMap(YamlMappingNode? metadata, string key, Action<string, string, string> add)
    {
        if (metadata?.Get(key) is not YamlMappingNode map)
        {
            return;
        }
        foreach (KeyValuePair<YamlNode, YamlNode> entry in map.Children)
        {
            string name = (entry.Key as YamlScalarNode)?.Value ?? "";
            string path = $"{manifest.PodMetadataPath}.{key}[\"{name}\"]";
            if (entry.Value is YamlScalarNode value)
            {
                add(name, YamlNodes.IsNull(value) ? "" : value.Value ?? "", path);
            }
            else if (name.StartsWith(StepFields.AnnotationPrefix, StringComparison.Ordinal))
            {
                Error(path, "expected a string");
            }
        }
    }

    /// <summary>One value with the path it came from.</summary>
    private sealed record Item(string Text, string Path);

    /// <summary>A setting as one source declares it.</summary>
    private sealed class Declaration(List<Item> items, string path, string display, string? annotationKey = null)
    {
        public List<Item> Items { get; } = items;

        public string Path { get; } = path;

        /// <summary>How the value is shown in a disagreement: "30s", [fetch, lint].</summary>
        public string Display { get; } = display;

        public string? AnnotationKey { get; } = annotationKey;

        public object? Value { get; set; }
    }

    private sealed class Declarations
    {
        public Declaration? Field { get; set; }

        public Declaration? Annotation { get; set; }

        public Declaration? Command { get; set; }
    }

    private sealed class Container(string path, YamlMappingNode node, bool inInit)
    {
        public string Path { get; } = path;

        public YamlMappingNode Node { get; } = node;

        /// <summary>An already rewritten native sidecar, among the init containers.</summary>
        public bool InInit { get; } = inInit;

        public string? Name { get; set; }

        public WrappedRun? Wrapped { get; set; }

        public Dictionary<StepField, Declarations> Declarations { get; } = [];

        public Dictionary<StepField, object> Settings { get; } = [];

        /// <summary>The names a list field (waitForTermination, observes) chose, unresolved.</summary>
        public Dictionary<StepField, List<Item>> ListItems { get; } = [];

        /// <summary>Where each setting was declared (for error lines).</summary>
        public Dictionary<StepField, string> SettingPaths { get; } = [];

        /// <summary>The producer this container reads its stdin from, once validated.</summary>
        public string? StdinFrom { get; set; }

        /// <summary>The consumer that reads this container's stdout.</summary>
        public string? StdoutTo { get; set; }

        /// <summary>The steps whose results its command, args or env take, once validated.</summary>
        public HashSet<string>? ResultSources { get; set; }

        public IReadOnlyList<string> Gates { get; set; } = [];

        /// <summary>The containers it observes, once validated, in the pod's order.</summary>
        public IReadOnlyList<string> Observes { get; set; } = [];

        public List<YamlNode>? CommandNodes { get; set; }

        public bool IsSidecar => Settings.TryGetValue(StepField.Sidecar, out object? value) && (bool)value;

        public Declarations DeclarationsOf(StepField field)
        {
            if (!Declarations.TryGetValue(field, out Declarations? declarations))
            {
                Declarations[field] = declarations = new Declarations();
            }
            return declarations;
        }
    }
}
