using Emissary.Results;
using Emissary.Tekton;

namespace Emissary.Tests.Unit.Tekton.Cel;

/// <summary>
/// Tekton's own cases for CEL in a step's <c>when</c> (pkg/entrypoint/entrypointer_test.go),
/// ported as facts, never as code. Convention: the method is named after the Go test, and the
/// first argument of each row is the Go case's <c>name</c> verbatim.
/// </summary>
public sealed class TektonCelWhenTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emissary-tekton-cel-").FullName;

    /// <summary>Substitution into <c>cel</c> of a result of step "foo" (the file stepDir/step-foo/results/res), before evaluation.</summary>
    [Theory]
    [InlineData("string param", "Hello", "$(steps.foo.results.res)", "Hello", false)]
    [InlineData("array param", "[\"Hello\",\"World\"]", "$(steps.foo.results.res[1])", "World", false)]
    [InlineData("object param", "{\"hello\":\"World\"}", "$(steps.foo.results.res.hello)", "World", false)]
    [InlineData("bad-result-format", "{\"hello\":\"World\"}", "$(steps.foo.results.res.hello.bar)", "$(steps.foo.results.res.hello.bar)", true)]
    public void TestApplyStepWhenSubstitutions_CEL(string goCase, string result, string cel, string want, bool wantErr)
    {
        _ = goCase;
        Directory.CreateDirectory(_root + "/steps/step-foo/results");
        File.WriteAllText(_root + "/steps/step-foo/results/res", result);
        IReadOnlyList<TektonWhenExpression> when = [new("", "", [], cel)];
        var resolver = new TektonStepResultResolver(new TektonPaths(_root), TektonTerminationMessage.MaxResultBytes(false));

        IReadOnlyList<TektonWhenExpression>? got = null;
        Action substitute = () => got = TektonWhenExpressions.Substitute(when, resolver);

        if (wantErr && goCase == "bad-result-format")
        {
            // Different on purpose: `res.hello.bar` is not a reference our pattern reads (one key
            // at most), so it stays text without an error; Go logs an error and leaves it too. Either
            // way the expression is unchanged and the step then fails at compile (a syntax error).
            substitute.Should().NotThrow();
            got![0].Cel.Should().Be(want);
            CelProgram.Evaluate(got[0].Cel, out string? error).Should().BeFalse();
            error.Should().Contain("Syntax error");
        }
        else
        {
            substitute.Should().NotThrow();
            got![0].Cel.Should().Be(want);
        }
    }

    /// <summary>allowExec's CEL cases: the CEL expressions decide first, then input/operator/values.</summary>
    [Theory]
    [InlineData("CEL is true", "[{\"cel\":\"'foo'=='foo'\"}]", true, false)]
    [InlineData("CEL is false", "[{\"cel\":\"'foo'!='foo'\"}]", false, false)]
    [InlineData("multiple expressions - 1. CEL is true 2. In Op is false, expect false", "[{\"cel\":\"'foo'=='foo'\"},{\"input\":\"foo\",\"operator\":\"in\",\"values\":[\"bar\"]}]", false, false)]
    [InlineData("multiple expressions - 1. CEL is true 2. CEL is false, expect false", "[{\"cel\":\"'foo'=='foo'\"},{\"cel\":\"'xxx'!='xxx'\"}]", false, false)]
    [InlineData("CEL is not evaluated to bool", "[{\"cel\":\"'foo'\"}]", false, true)]
    [InlineData("CEL cannot be compiled", "[{\"cel\":\"foo==foo\"}]", false, true)]
    public void TestAllowExec(string goCase, string whenJson, bool expected, bool wantErr)
    {
        _ = goCase;
        bool allowed = TektonWhenExpressions.AllowsExecution(TektonWhenExpressions.Parse(whenJson), out string? error);

        allowed.Should().Be(expected);
        (error is not null).Should().Be(wantErr, error);
    }

    /// <summary>Not from Tekton's tests: what its cel-go gives for the language users write in a when (cel-spec's semantics).</summary>
    [Theory]
    [InlineData("'prod' in ['prod', 'staging']", true)]
    [InlineData("!('a' in {'a': 1}) || 1 + 2 * 3 == 7", true)]
    [InlineData("'v1.2.3'.startsWith('v1') && 'v1.2.3'.endsWith('.3') && 'abc'.contains('b')", true)]
    [InlineData("'release-42'.matches('^release-[0-9]+$') && !'x'.matches('^(a|b)*$')", true)]
    [InlineData("int('42') > 41 && uint(3) == 3u && double('1.5') == 1.5 && string(7) == '7' && bool('true')", true)]
    [InlineData("[1, 2, 3].all(x, x > 0) && [1, 2].exists(x, x == 2) && [1, 2].exists_one(x, x > 1)", true)]
    [InlineData("[1, 2, 3].map(x, x * 2) == [2, 4, 6] && [1, 2, 3].filter(x, x % 2 == 1) == [1, 3]", true)]
    [InlineData("has({'a': 1}.a) && !has({'a': 1}.b) && {'a': {'b': 'c'}}.a.b == 'c'", true)]
    [InlineData("false && 1 / 0 == 1", false)]
    [InlineData("true ? 1 < 2 : 1 / 0 == 1", true)]
    [InlineData("r'\\d' == '\\\\d' && '''a\nb''' == 'a\\nb'", true)]
    public void The_when_language_evaluates_as_cel_go(string expression, bool expected)
    {
        CelProgram.Evaluate(expression, out string? error).Should().Be(expected);
        error.Should().BeNull();
    }

    [Theory]
    [InlineData("1 / 0 == 1", "division by zero")]
    [InlineData("9223372036854775807 + 1 > 0", "return error for overflow")]
    [InlineData("[1][3] == 1", "index out of bounds: 3")]
    [InlineData("{'a': 1}.b == 1", "no such key: b")]
    [InlineData("1 == 1.0", "found no matching overload for '_==_' applied to '(int, double)'")]
    [InlineData("'a' + 1 == 'a1'", "found no matching overload for '_+_' applied to '(string, int)'")]
    [InlineData("size(1) == 1", "found no matching overload for 'size'")]
    [InlineData("'a'.matches('(') ", "invalid regex")]
    [InlineData("x.y == 1", "undeclared reference to 'x'")]
    [InlineData("1 +", "Syntax error")]
    public void An_expression_that_fails_says_why(string expression, string error)
    {
        CelProgram.Evaluate(expression, out string? got).Should().BeFalse();
        got.Should().Contain(error);
    }

    [Fact]
    public void Work_is_bounded_in_depth_length_and_cost()
    {
        CelProgram.Evaluate(new string('(', 300) + "true" + new string(')', 300), out string? deep).Should().BeFalse();
        deep.Should().Contain("recursion limit");
        CelProgram.Evaluate(new string('!', 300) + "true", out string? nots).Should().BeFalse();
        nots.Should().Contain("recursion limit");
        CelProgram.Evaluate("'" + new string('a', CelParser.MaxLength) + "' == ''", out string? longText).Should().BeFalse();
        longText.Should().Contain("exceeds limit");
        string list = "[" + string.Join(",", Enumerable.Range(0, 200)) + "]";
        CelProgram.Evaluate($"{list}.all(a, {list}.all(b, {list}.all(c, true)))", out string? costly).Should().BeFalse();
        costly.Should().Contain("cost limit");
        CelProgram.Evaluate("'a'.matches('(a*)*b' ) || '" + new string('a', 20000) + "'.matches('(a*)*(a|aa)*b')", out string? regex).Should().BeFalse();
        regex.Should().BeNull("a linear-time automaton, no catastrophic backtracking");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
