namespace Emissary.Foundation.Sequences;

/// <summary>
/// The few sequence operators the pod binary uses, eager and without LINQ. LINQ's iterators
/// dispatch through generic virtual methods (<c>Iterator&lt;T&gt;.Select&lt;TResult&gt;</c> and
/// friends), which NativeAOT can only resolve with its runtime type loader: together ~125 KB of
/// a ~3 MB binary, for operators that run over a handful of options, gates or verbs. Core does
/// not import System.Linq (Emissary.Core.csproj); a file imports this namespace instead.
/// </summary>
internal static class SequenceOperators
{
    public static bool Any<T>(this IEnumerable<T> items)
    {
        using IEnumerator<T> e = items.GetEnumerator();
        return e.MoveNext();
    }

    public static bool Any<T>(this IEnumerable<T> items, Func<T, bool> predicate)
    {
        foreach (T item in items)
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
        foreach (T item in items)
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
        foreach (T item in items)
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
        foreach (T item in items)
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
        var result = new List<TResult>();
        foreach (T item in items)
        {
            result.Add(selector(item));
        }
        return [.. result];
    }

    public static TResult[] SelectMany<T, TResult>(this IEnumerable<T> items, Func<T, IEnumerable<TResult>> selector)
    {
        var result = new List<TResult>();
        foreach (T item in items)
        {
            result.AddRange(selector(item));
        }
        return [.. result];
    }

    public static T[] Where<T>(this IEnumerable<T> items, Func<T, bool> predicate)
    {
        var result = new List<T>();
        foreach (T item in items)
        {
            if (predicate(item))
            {
                result.Add(item);
            }
        }
        return [.. result];
    }

    public static TResult[] OfType<TResult>(this System.Collections.IEnumerable items)
    {
        var result = new List<TResult>();
        foreach (object? item in items)
        {
            if (item is TResult match)
            {
                result.Add(match);
            }
        }
        return [.. result];
    }

    public static T[] Concat<T>(this IEnumerable<T> first, IEnumerable<T> second)
    {
        var result = new List<T>(first);
        result.AddRange(second);
        return [.. result];
    }

    public static T[] Skip<T>(this IEnumerable<T> items, int count)
    {
        var result = new List<T>();
        foreach (T item in items)
        {
            if (count > 0)
            {
                count--;
            }
            else
            {
                result.Add(item);
            }
        }
        return [.. result];
    }

    public static T[] Distinct<T>(this IEnumerable<T> items)
    {
        var seen = new HashSet<T>();
        var result = new List<T>();
        foreach (T item in items)
        {
            if (seen.Add(item))
            {
                result.Add(item);
            }
        }
        return [.. result];
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
        foreach (T item in items)
        {
            if (comparer.Equals(item, value))
            {
                return true;
            }
        }
        return false;
    }

    public static T[] ToArray<T>(this IEnumerable<T> items) => [.. new List<T>(items)];

    public static List<T> ToList<T>(this IEnumerable<T> items) => new(items);
}
