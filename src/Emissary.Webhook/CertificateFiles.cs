using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Emissary.Webhook;

/// <summary>
/// The serving certificate and key, from PEM files that cert-manager rewrites when it renews them
/// (a Secret volume: the kubelet swaps a symlink). Kestrel asks for the certificate at every TLS
/// handshake; at most once per <see cref="CheckInterval"/> the files are read again and, when their
/// bytes changed, the new pair is loaded, so a renewal is served without a restart. A pair that
/// does not load (caught between the writes of the two files, or broken) keeps the previous one
/// in service and is retried at the next check.
/// </summary>
internal sealed class CertificateFiles(string certificatePath, string keyPath, ILogger logger, TimeProvider clock)
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>A PEM certificate chain and key are a few KiB; anything far larger is not one.</summary>
    private const int MaxFileBytes = 1024 * 1024;

    private readonly Lock _lock = new();
    private X509Certificate2? _current;
    private byte[] _certificateBytes = [];
    private byte[] _keyBytes = [];
    private long _nextCheck = long.MinValue;

    /// <summary>Loads the pair now; throws <see cref="CertificateLoadException"/> with one line when it cannot (at start-up: exit 125).</summary>
    public void LoadInitial()
    {
        lock (_lock)
        {
            if (!TryReload(out string? problem))
            {
                throw new CertificateLoadException(problem!);
            }
        }
    }

    public bool Loaded => Volatile.Read(ref _current) is not null;

    /// <summary>The certificate to present: the current one, reloaded first when the files changed since the last check.</summary>
    public X509Certificate2? Current()
    {
        long now = clock.GetTimestamp();
        if (now >= Volatile.Read(ref _nextCheck) && _lock.TryEnter())
        {
            try
            {
                _nextCheck = now + (long)(CheckInterval.TotalSeconds * clock.TimestampFrequency);
                if (!TryReload(out string? problem))
                {
                    logger.LogError("TLS certificate not reloaded, still serving the previous one: {Problem}", problem);
                }
            }
            finally
            {
                _lock.Exit();
            }
        }
        return Volatile.Read(ref _current);
    }

    // Under _lock. True when the pair in service is the one in the files.
    private bool TryReload(out string? problem)
    {
        problem = null;
        if (Read(certificatePath, out problem) is not { } certificate || Read(keyPath, out problem) is not { } key)
        {
            return false;
        }
        if (_current is not null && certificate.AsSpan().SequenceEqual(_certificateBytes) && key.AsSpan().SequenceEqual(_keyBytes))
        {
            return true;
        }
        X509Certificate2 loaded;
        try
        {
            loaded = X509Certificate2.CreateFromPem(System.Text.Encoding.ASCII.GetString(certificate), System.Text.Encoding.ASCII.GetString(key));
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            problem = $"{certificatePath} and {keyPath} are not a PEM certificate and its private key";
            return false;
        }
        X509Certificate2? previous = _current;
        _certificateBytes = certificate;
        _keyBytes = key;
        Volatile.Write(ref _current, loaded);
        logger.LogInformation("TLS certificate {Action}: subject {Subject}, expires {NotAfter:o}, thumbprint {Thumbprint}",
            previous is null ? "loaded" : "reloaded", loaded.Subject, loaded.NotAfter.ToUniversalTime(), loaded.Thumbprint);
        // The previous certificate is not disposed: a handshake on another thread may still be using it.
        return true;
    }

    private static byte[]? Read(string path, out string? problem)
    {
        problem = null;
        try
        {
            return ReadBounded(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"cannot read {path}: {(e is CertificateFileTooLarge ? e.Message : Foundation.ErrorText.Reason(e))}";
            return null;
        }
    }

    private static byte[] ReadBounded(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        using var bytes = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = file.Read(buffer, 0, buffer.Length)) > 0)
        {
            bytes.Write(buffer, 0, read);
            if (bytes.Length > MaxFileBytes)
            {
                throw new CertificateFileTooLarge();
            }
        }
        return bytes.ToArray();
    }

    private sealed class CertificateFileTooLarge() : IOException($"larger than {MaxFileBytes / 1024} KiB: not a PEM certificate or key");
}

/// <summary>The certificate files cannot be used: one line for the user.</summary>
internal sealed class CertificateLoadException(string message) : Exception(message);
