using System.Text;
using ArchUnitNET.Domain;
using ArchUnitNET.Domain.Dependencies;

namespace Emissary.Tests.Unit;

/// <summary>
/// Which namespace uses which, computed from the compiled types (ArchUnitNET reads the type
/// references of signatures and method bodies), and the cycles in it. A cycle is a strongly
/// connected component of more than one namespace; each is reported with the type-level
/// dependencies that make its edges, so the failure says which file to move.
/// </summary>
internal sealed class NamespaceGraph
{
    /// <summary>namespace → namespace it uses → the "Type → Type" pairs that make the edge.</summary>
    private readonly SortedDictionary<string, SortedDictionary<string, SortedSet<string>>> _edges = new(StringComparer.Ordinal);

    public IEnumerable<string> Namespaces => _edges.Keys;

    public static NamespaceGraph Of(Architecture code, string assemblyName, string rootNamespace)
    {
        var graph = new NamespaceGraph();
        foreach (IType type in code.Types)
        {
            if (type.Assembly.Name.Split(',')[0] != assemblyName || !Inside(type.Namespace.FullName, rootNamespace))
            {
                continue;
            }
            graph.AddNode(type.Namespace.FullName);
            foreach (ITypeDependency dependency in type.Dependencies)
            {
                IType target = dependency.Target;
                // A generic parameter or a function pointer (the CEL evaluator has both) has no
                // assembly or namespace: not a type of the core.
                if (target.Assembly?.Name.Split(',')[0] == assemblyName && target.Namespace is not null && Inside(target.Namespace.FullName, rootNamespace))
                {
                    graph.Add(type.Namespace.FullName, target.Namespace.FullName, $"{Short(type)} → {Short(target)}");
                }
            }
        }
        return graph;
    }

    public void AddNode(string name)
    {
        if (!_edges.ContainsKey(name))
        {
            _edges[name] = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        }
    }

    public void Add(string from, string to, string because)
    {
        AddNode(from);
        AddNode(to);
        if (from == to)
        {
            return;
        }
        if (!_edges[from].TryGetValue(to, out SortedSet<string>? reasons))
        {
            _edges[from][to] = reasons = new SortedSet<string>(StringComparer.Ordinal);
        }
        reasons.Add(because);
    }

    public IEnumerable<(string From, string To)> Edges()
    {
        foreach ((string from, SortedDictionary<string, SortedSet<string>> targets) in _edges)
        {
            foreach (string to in targets.Keys)
            {
                yield return (from, to);
            }
        }
    }

    /// <summary>The strongly connected components of more than one namespace (Tarjan's algorithm).</summary>
    public List<List<string>> Cycles()
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var components = new List<List<string>>();

        void Visit(string node)
        {
            index[node] = low[node] = index.Count;
            stack.Push(node);
            onStack.Add(node);
            foreach (string next in _edges[node].Keys)
            {
                if (!index.ContainsKey(next))
                {
                    Visit(next);
                    low[node] = Math.Min(low[node], low[next]);
                }
                else if (onStack.Contains(next))
                {
                    low[node] = Math.Min(low[node], index[next]);
                }
            }
            if (low[node] == index[node])
            {
                var component = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    component.Add(member);
                }
                while (member != node);
                if (component.Count > 1)
                {
                    component.Sort(StringComparer.Ordinal);
                    components.Add(component);
                }
            }
        }

        foreach (string node in _edges.Keys)
        {
            if (!index.ContainsKey(node))
            {
                Visit(node);
            }
        }
        return components;
    }

    /// <summary>Each cycle with the edges inside it and the first few type dependencies of each edge.</summary>
    public string Describe(List<List<string>> cycles)
    {
        var text = new StringBuilder();
        foreach (List<string> cycle in cycles)
        {
            text.AppendLine("cycle: " + string.Join(", ", cycle));
            foreach (string from in cycle)
            {
                foreach ((string to, SortedSet<string> reasons) in _edges[from])
                {
                    if (cycle.Contains(to))
                    {
                        text.AppendLine($"  {from} → {to}: {string.Join("; ", reasons.Take(4))}{(reasons.Count > 4 ? $"; … ({reasons.Count} in all)" : "")}");
                    }
                }
            }
        }
        return text.ToString();
    }

    private static bool Inside(string name, string root) =>
        name == root || name.StartsWith(root + ".", StringComparison.Ordinal);

    private static string Short(IType type) => type.FullName.Split('<', '`')[0];
}
