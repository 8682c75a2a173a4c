using CsCheck;
using FluentAssertions;
using Xunit;
using Ops = Emissary.Foundation.Sequences.SequenceOperators;

namespace Emissary.Tests.Unit.Foundation;

/// <summary>
/// The pod binary's own sequence operators (no LINQ in the core) walk arrays and lists by index and
/// copy anything else once: whatever the shape of the input, each must answer exactly as LINQ does.
/// </summary>
public class SequenceOperatorsTests
{
    private static readonly Gen<string[]> Items = Gen.String["ab"].Array[0, 12];

    /// <summary>The same items as an array, a list, a lazy iterator and a read-only wrapper of an array.</summary>
    private static IEnumerable<IEnumerable<string>> Shapes(string[] items)
    {
        yield return items;
        yield return new List<string>(items);
        yield return Lazy(items);
        yield return Array.AsReadOnly(items);
    }

    private static IEnumerable<string> Lazy(string[] items)
    {
        foreach (string item in items)
        {
            yield return item;
        }
    }

    private static bool Short(string s) => s.Length < 2;

    [Fact]
    public void Every_operator_answers_as_linq_does_for_arrays_lists_and_lazy_sequences()
    {
        Gen.Select(Items, Items, Gen.Int[-2, 14]).Sample((items, other, count) =>
        {
            foreach (IEnumerable<string> shape in Shapes(items))
            {
                Ops.Any(shape).Should().Be(Enumerable.Any(items));
                Ops.Any(shape, Short).Should().Be(Enumerable.Any(items, Short));
                Ops.All(shape, Short).Should().Be(Enumerable.All(items, Short));
                Ops.Count(shape, Short).Should().Be(Enumerable.Count(items, Short));
                Ops.FirstOrDefault(shape, Short).Should().Be(Enumerable.FirstOrDefault(items, Short));
                Ops.Select(shape, s => s.Length).Should().Equal(Enumerable.Select(items, s => s.Length));
                Ops.SelectMany(shape, s => s.ToCharArray()).Should().Equal(Enumerable.SelectMany(items, s => s));
                Ops.Where(shape, Short).Should().Equal(Enumerable.Where(items, Short));
                Ops.Concat(shape, other).Should().Equal(Enumerable.Concat(items, other));
                Ops.Concat(other, shape).Should().Equal(Enumerable.Concat(other, items));
                Ops.Skip(shape, count).Should().Equal(Enumerable.Skip(items, count));
                Ops.Distinct(shape).Should().Equal(Enumerable.Distinct(items));
                Ops.OrderBy(shape, s => s.Length).Should().Equal(Enumerable.OrderBy(items, s => s.Length));
                Ops.Contains(shape, "a").Should().Be(Enumerable.Contains(items, "a"));
                Ops.ToArray(shape).Should().Equal(items);
            }
            Ops.OfType<string>(new object[] { 1, "a", 2.0, "b" }).Should().Equal("a", "b");
        });
    }

    [Fact]
    public void ToArray_of_an_array_is_a_copy_not_the_array_itself()
    {
        string[] items = ["a", "b"];

        string[] copy = Ops.ToArray(items);
        copy[0] = "changed";

        items.Should().Equal("a", "b");
    }

    [Fact]
    public void SortInPlace_orders_the_list_as_List_Sort_does_with_a_comparison_or_a_comparer()
    {
        Gen.String["abc"].Array[0, 12].Sample(items =>
        {
            var expected = new List<string>(items);
            expected.Sort(StringComparer.Ordinal);
            var byComparer = new List<string>(items);
            var byComparison = new List<string>(items);

            Ops.SortInPlace(byComparer, StringComparer.Ordinal);
            Ops.SortInPlace(byComparison, string.CompareOrdinal);

            byComparer.Should().Equal(expected);
            byComparison.Should().Equal(expected);
        });
    }

    [Fact]
    public void RemoveSame_removes_that_object_not_an_equal_one_and_says_whether_it_was_there()
    {
        var first = new Uri("http://a/");
        var equal = new Uri("http://a/");
        var list = new List<Uri> { equal, first, equal };

        Ops.RemoveSame(list, first).Should().BeTrue();
        list.Should().HaveCount(2).And.OnlyContain(u => ReferenceEquals(u, equal));
        Ops.RemoveSame(list, first).Should().BeFalse();
        list.Should().HaveCount(2);
    }
}
