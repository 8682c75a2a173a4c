namespace Emissary.Tools.PodSpec;

/// <summary>Cycles of a directed graph, for the pod's validation (gates; gates between streams).</summary>
internal static class GraphCycles
{
    /// <summary>
    /// Finds cycles by one depth-first search over nodes 0..<paramref name="nodeCount"/>-1, each
    /// as the edges taken in order, the last one closing it; at most <paramref name="max"/> of
    /// them. Linear in nodes and edges; iterative, so a chain of thousands of steps cannot exhaust
    /// a thread's stack (the webhook reviews on pool threads).
    /// </summary>
    public static List<List<TEdge>> Find<TEdge>(int nodeCount, Func<int, IReadOnlyList<TEdge>> edgesOf, Func<TEdge, int> target, int max)
    {
        var cycles = new List<List<TEdge>>();
        var state = new byte[nodeCount]; // 0: not seen, 1: on the path, 2: done
        var depth = new int[nodeCount]; // where a node on the path is
        var path = new List<(int Node, int NextEdge)>();
        var entered = new List<TEdge>(); // entered[i]: the edge from path[i] to path[i + 1]
        for (int root = 0; root < nodeCount && cycles.Count < max; root++)
        {
            if (state[root] != 0)
            {
                continue;
            }
            state[root] = 1;
            path.Add((root, 0));
            while (path.Count > 0 && cycles.Count < max)
            {
                (int node, int next) = path[^1];
                IReadOnlyList<TEdge> edges = edgesOf(node);
                if (next == edges.Count)
                {
                    state[node] = 2;
                    path.RemoveAt(path.Count - 1);
                    if (entered.Count > 0 && entered.Count == path.Count)
                    {
                        entered.RemoveAt(entered.Count - 1);
                    }
                    continue;
                }
                path[^1] = (node, next + 1);
                TEdge edge = edges[next];
                int to = target(edge);
                if (state[to] == 0)
                {
                    state[to] = 1;
                    depth[to] = path.Count;
                    entered.Add(edge);
                    path.Add((to, 0));
                }
                else if (state[to] == 1)
                {
                    cycles.Add([.. entered.Skip(depth[to]), edge]);
                }
            }
            path.Clear();
            entered.Clear();
        }
        return cycles;
    }
}
