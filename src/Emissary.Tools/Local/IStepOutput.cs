namespace Emissary.Tools.Local;

/// <summary>Where the steps' output goes (the runner's side of <see cref="ILocalEngine"/>).</summary>
internal interface IStepOutput
{
    /// <summary>Descriptors for a child's stdout and stderr: prefixed pipes, or the --output-dir files. Call <see cref="ChildStarted"/> once the child has them.</summary>
    (int Stdout, int Stderr) OpenStreams(string step);

    /// <summary>Closes this process's copies of the descriptors <see cref="OpenStreams"/> gave.</summary>
    void ChildStarted(int stdout, int stderr);

    /// <summary>Output collected after the fact (container logs): printed prefixed, or written to the --output-dir file.</summary>
    void Write(string step, byte[] bytes, bool toStderr);

    /// <summary>A line of emissary local's own (stderr).</summary>
    void Note(string line);
}
