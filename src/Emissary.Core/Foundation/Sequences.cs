namespace Emissary.Foundation.Sequences;

/// <summary>
/// The few sequence operators the pod binary uses, eager and without LINQ. LINQ's iterators
/// dispatch through generic virtual methods (<c>Iterator&lt;T&gt;.Select&lt;TResult&gt;</c> and
/// friends), which NativeAOT can only resolve with its runtime type loader: together ~125 KB of
/// a ~3 MB binary, for operators that run over a handful of options, gates or verbs. Core does
/// not import System.Linq (Emissary.Core.csproj); a file imports this namespace instead.
/// They walk an array (what the binary's lists of options, gates and arguments almost always are)
/// (or a <c>List&lt;T&gt;</c>) by index: a <c>foreach</c> through <c>IEnumerable&lt;T&gt;</c> makes four interface calls, and the
/// first call at each call site and type costs the runtime a dispatch-cell resolution, ~0.35 µs
/// each and ~60 of them at every start before this. Anything else is copied into an array once,
/// without <c>List&lt;T&gt;</c>: each element type it is instantiated over adds static state that
/// the runtime allocates at every start.
/// </summary>
internal static class SequenceOperators
{
    public static bool Any<T>(this IEnumerable<T> items)
    {
        if (items is T[] array)
        {
            return array.Length > 0;
        }
        using IEnumerator<T> e = items.GetEnumerator();
        return e.MoveNext();
    }

    public static bool Any<T>(this IEnumerable<T> items, Func<T, bool> predicate)
    {
        foreach (T item in Items(items))
        {
            if (predicate(item))
            {
                return true;
            }
        }
        return false;
    }

    public static bool All<T>(this IEnumerable<T> items, Func<T, bool> predicate)
    {
        foreach (T item in Items(items))
        {
            if (!predicate(item))
            {
                return false;
            }
        }
        return true;
    }

    public static int Count<T>(this IEnumerable<T> items, Func<T, bool> predicate)
    {
        int count = 0;
        foreach (T item in Items(items))
        {
            if (predicate(item))
            {
                count++;
            }
        }
        return count;
    }

    public static T? FirstOrDefault<T>(this IEnumerable<T> items, Func<T, bool> predicate)
    {
        foreach (T item in Items(items))
        {
            if (predicate(item))
            {
                return item;
            }
        }
        return default;
    }

    public static TResult[] Select<T, TResult>(this IEnumerable<T> items, Func<T, TResult> selector)
    {
        ReadOnlySpan<T> source = Items(items);
        var result = new TResult[source.Length];
        for (int i = 0; i < source.Length; i++)
        {
            result[i] = selector(source[i]);
        }
        return result;
    }

    public static TResult[] SelectMany<T, TResult>(this IEnumerable<T> items, Func<T, IEnumerable<TResult>> selector)
    {
        var result = new Builder<TResult>();
        foreach (T item in Items(items))
        {
            foreach (TResult one in Items(selector(item)))
            {
                result.Add(one);
            }
        }
        return result.ToArray();
    }

    public static T[] Where<T>(this IEnumerable<T> items, Func<T, bool> predicate)
    {
        var result = new Builder<T>();
        foreach (T item in Items(items))
        {
            if (predicate(item))
            {
                result.Add(item);
            }
        }
        return result.ToArray();
    }

    public static TResult[] OfType<TResult>(this System.Collections.IEnumerable items)
    {
        var result = new Builder<TResult>();
        foreach (object? item in items)
        {
            if (item is TResult match)
            {
                result.Add(match);
            }
        }
        return result.ToArray();
    }

    public static T[] Concat<T>(this IEnumerable<T> first, IEnumerable<T> second)
    {
        ReadOnlySpan<T> a = Items(first), b = Items(second);
        var result = new T[a.Length + b.Length];
        a.CopyTo(result);
        b.CopyTo(result.AsSpan(a.Length));
        return result;
    }

    public static T[] Skip<T>(this IEnumerable<T> items, int count)
    {
        ReadOnlySpan<T> source = Items(items);
        return source[Math.Clamp(count, 0, source.Length)..].ToArray();
    }

    public static T[] Distinct<T>(this IEnumerable<T> items)
    {
        var seen = new HashSet<T>();
        var result = new Builder<T>();
        foreach (T item in Items(items))
        {
            if (seen.Add(item))
            {
                result.Add(item);
            }
        }
        return result.ToArray();
    }

    /// <summary>A stable sort by key, like LINQ's OrderBy.</summary>
    public static T[] OrderBy<T, TKey>(this IEnumerable<T> items, Func<T, TKey> key, IComparer<TKey>? comparer = null)
    {
        T[] array = items.ToArray();
        var keys = new TKey[array.Length];
        var order = new int[array.Length];
        for (int i = 0; i < array.Length; i++)
        {
            keys[i] = key(array[i]);
            order[i] = i;
        }
        comparer ??= Comparer<TKey>.Default;
        Array.Sort(order, (a, b) => comparer.Compare(keys[a], keys[b]) is var c && c != 0 ? c : a.CompareTo(b));
        var sorted = new T[array.Length];
        for (int i = 0; i < order.Length; i++)
        {
            sorted[i] = array[order[i]];
        }
        return sorted;
    }

    public static bool Contains<T>(this IEnumerable<T> items, T value, IEqualityComparer<T>? comparer = null)
    {
        comparer ??= EqualityComparer<T>.Default;
        foreach (T item in Items(items))
        {
            if (comparer.Equals(item, value))
            {
                return true;
            }
        }
        return false;
    }

    public static T[] ToArray<T>(this IEnumerable<T> items) => items is T[] array ? (T[])array.Clone() : Copy(items);

    // List<T>'s own Sort and Remove are not used in the core (ArchitectureTests): the compiler fills
    // the generic dictionary of every List<T> in the binary with what any of its shared methods
    // needs, so one call to List<SomeClass>.Sort gave all twenty List<T> a sort helper and a
    // comparer, and one Remove an equality comparer, each with static state the runtime allocates
    // at every start (55 of the binary's 302 static bases, ~0.1 µs each). These sort the list's own
    // storage or compare by identity, through methods instantiated for one element type.

    /// <summary>Sorts the list in place, unstable like <c>List&lt;T&gt;.Sort</c>.</summary>
    public static void SortInPlace<T>(this List<T> list, Comparison<T> comparison) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list).Sort(comparison);

    /// <summary>Sorts the list in place, unstable like <c>List&lt;T&gt;.Sort</c>.</summary>
    public static void SortInPlace<T>(this List<T> list, IComparer<T> comparer) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list).Sort(comparer);

    /// <summary>Removes <paramref name="item"/> itself (not an equal object); false when the list does not hold it.</summary>
    public static bool RemoveSame<T>(this List<T> list, T item) where T : class
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (ReferenceEquals(list[i], item))
            {
                list.RemoveAt(i);
                return true;
            }
        }
        return false;
    }

    public static List<T> ToList<T>(this IEnumerable<T> items) => new(items);

    /// <summary>The items by index: the array or the list's own storage, or a copy of anything else made once.</summary>
    private static ReadOnlySpan<T> Items<T>(IEnumerable<T> items) => items switch
    {
        T[] array => array,
        List<T> list => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list),
        _ => Copy(items),
    };

    private static T[] Copy<T>(IEnumerable<T> items)
    {
        var result = new Builder<T>();
        foreach (T item in items)
        {
            result.Add(item);
        }
        return result.ToArray();
    }

    /// <summary>A growing array: what these operators need of <c>List&lt;T&gt;</c>, without its static state.</summary>
    private struct Builder<T>
    {
        private T[]? _items;
        private int _count;

        public void Add(T item)
        {
            if (_items is null || _count == _items.Length)
            {
                Array.Resize(ref _items, Math.Max(4, _count * 2));
            }
            _items[_count++] = item;
        }

        public readonly T[] ToArray() => _items is null ? [] : _items.AsSpan(0, _count).ToArray();
    }
}
