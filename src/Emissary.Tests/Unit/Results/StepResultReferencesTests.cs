using Emissary.Results;
using FluentAssertions;
using Xunit;

namespace Emissary.Tests.Unit.Results;

public sealed class StepResultReferencesTests
{
    [Theory]
    [InlineData("$(steps.build.results.digest)", "build", "digest", "")]
    [InlineData("x=$(steps.step-a_1.results.out-2)!", "step-a_1", "out-2", "")]
    [InlineData("$(steps.s.results.list[3])", "s", "list", "[3]")]
    [InlineData("$(steps.s.results.list[*])", "s", "list", "[*]")]
    [InlineData("$(steps.s.results.obj.field)", "s", "obj", ".field")]
    public void Finds_each_form(string text, string step, string key, string selector)
    {
        StepResultReferences.Find(text).Should().Equal(new StepResultReference(step, key, selector));
    }

    [Theory]
    [InlineData("$(steps)")]
    [InlineData("$(steps.build.results.)")]
    [InlineData("$(steps..results.x)")]
    [InlineData("$(steps.a.result.x)")]
    [InlineData("$(steps.a.results.x")]
    [InlineData("$(steps.a.results.x[])")]
    [InlineData("$(steps.a.results.x[-1])")]
    [InlineData("$(steps.a.results.x.)")]
    [InlineData("$(steps.a b.results.x)")]
    [InlineData("echo $(steps --help)")]
    public void Leaves_what_is_not_a_reference_alone(string text)
    {
        StepResultReferences.Find(text).Should().BeEmpty();
        StepResultReferences.Substitute(text, _ => throw new InvalidOperationException("no reference here")).Should().Be(text);
    }

    [Fact]
    public void Substitutes_every_reference_once_without_rescanning_values()
    {
        string text = "a=$(steps.one.results.x) b=$(steps.two.results.y) $(steps.bad c=$(steps.one.results.x)";
        string result = StepResultReferences.Substitute(text, r => r.Step == "one" ? "$(steps.two.results.y)" : "Y");
        result.Should().Be("a=$(steps.two.results.y) b=Y $(steps.bad c=$(steps.two.results.y)");
    }

    [Fact]
    public void A_missing_result_surfaces_as_the_resolvers_exception()
    {
        Action act = () => StepResultReferences.Substitute("$(steps.a.results.b)", r => throw new StepResultMissingException($"{r}: no such result"));
        act.Should().Throw<StepResultMissingException>().WithMessage("$(steps.a.results.b): no such result");
    }

    [Fact]
    public void Text_without_references_is_returned_as_is()
    {
        string text = "plain";
        StepResultReferences.Substitute(text, _ => "x").Should().BeSameAs(text);
        StepResultReferences.Contains(text).Should().BeFalse();
        StepResultReferences.Contains("$(steps.a.results.b)").Should().BeTrue();
    }
}
