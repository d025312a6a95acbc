using System.Globalization;
using System.IO.Compression;
using System.Net.Http;
using System.Security.Cryptography;

namespace Eventprop.Core.Data;

/// <summary>The published files of the Heidelberg spiking datasets.</summary>
public enum HeidelbergFile
{
    /// <summary>SHD training set, <c>shd_train.h5</c> (8,156 trials).</summary>
    ShdTrain,
    /// <summary>SHD test set, <c>shd_test.h5</c> (2,264 trials).</summary>
    ShdTest,
    /// <summary>SSC training set, <c>ssc_train.h5</c>.</summary>
    SscTrain,
    /// <summary>SSC validation set, <c>ssc_valid.h5</c>.</summary>
    SscValid,
    /// <summary>SSC test set, <c>ssc_test.h5</c>.</summary>
    SscTest,
}

/// <summary>
/// Downloads SHD/SSC files into a cache directory: fetches <c>&lt;name&gt;.h5.gz</c> from <see cref="BaseUri"/>,
/// checks its MD5, decompresses it to <c>&lt;name&gt;.h5</c>, and skips files already present and verified.
/// </summary>
/// <remarks>
/// <para>Checksums: <see cref="PublishedMd5"/> pins the MD5 of the compressed files where it is known; for files
/// without a pinned checksum the server's <c>md5sums.txt</c> (published next to the files) is fetched instead.
/// Pass your own table to the constructor to override either.</para>
/// <para>Every write is atomic: data goes to a temporary file in the cache directory which is renamed into place
/// only once complete and verified; temporary files are deleted on any failure. After decompression a small
/// <c>&lt;name&gt;.h5.md5</c> record holds the checksum of the source archive and of the decompressed file; a file counts
/// as present and verified when that record matches the expected archive checksum and the file's own MD5.
/// The archive is deleted after a successful decompression.</para>
/// <para>Without network access, the error message says which file to fetch and where to put it by hand.</para>
/// </remarks>
public sealed class HeidelbergDownloader
{
    /// <summary>Where the datasets are published.</summary>
    public static readonly Uri DefaultBaseUri = new("https://zenkelab.org/datasets/");

    /// <summary>
    /// MD5 checksums of the published compressed files, by file name. SHD values are quoted identically by several
    /// independent loaders; ssc_valid by one. Files missing here are checked against the server's <c>md5sums.txt</c>.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> PublishedMd5 = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["shd_train.h5.gz"] = "d47c9825dee33347913e8ce0f2be08b0",
        ["shd_test.h5.gz"] = "3062a80ec0c5719404d5b02e166543b1",
        ["ssc_valid.h5.gz"] = "555645b13e15fe270fbfe39cb763f805",
    };

    /// <summary>Name of the checksum list published next to the files.</summary>
    public const string ChecksumListName = "md5sums.txt";

    private const int CopyBufferSize = 1 << 16;
    private readonly HttpClient _http;
    private readonly IReadOnlyDictionary<string, string> _pinnedMd5;
    private Dictionary<string, string>? _serverMd5;

    /// <summary>Creates a downloader.</summary>
    /// <param name="cacheDirectory">Directory that receives the files (created when missing).</param>
    /// <param name="baseUri">Where to fetch from; defaults to <see cref="DefaultBaseUri"/>. Tests point it at a local server.</param>
    /// <param name="md5Checksums">Expected MD5 of each compressed file by file name (e.g. "shd_train.h5.gz"); defaults to <see cref="PublishedMd5"/>.</param>
    /// <param name="httpClient">The HTTP client to use; defaults to a shared client without overall timeout (stalls are caught by <see cref="StallTimeout"/>).</param>
    public HeidelbergDownloader(string cacheDirectory, Uri? baseUri = null, IReadOnlyDictionary<string, string>? md5Checksums = null, HttpClient? httpClient = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheDirectory);
        CacheDirectory = Path.GetFullPath(cacheDirectory);
        var uri = baseUri ?? DefaultBaseUri;
        BaseUri = uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
        _pinnedMd5 = md5Checksums ?? PublishedMd5;
        _http = httpClient ?? SharedClient.Value;
    }

    private static readonly Lazy<HttpClient> SharedClient = new(() => new HttpClient { Timeout = Timeout.InfiniteTimeSpan });

    /// <summary>The cache directory (absolute).</summary>
    public string CacheDirectory { get; }

    /// <summary>Base address the files are fetched from (ends with '/').</summary>
    public Uri BaseUri { get; }

    /// <summary>A transfer that delivers no data for this long is abandoned (default 60 s); so is a connection that gets no response headers.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>File name of the decompressed file, e.g. "shd_train.h5".</summary>
    public static string FileName(HeidelbergFile file) => file switch
    {
        HeidelbergFile.ShdTrain => "shd_train.h5",
        HeidelbergFile.ShdTest => "shd_test.h5",
        HeidelbergFile.SscTrain => "ssc_train.h5",
        HeidelbergFile.SscValid => "ssc_valid.h5",
        HeidelbergFile.SscTest => "ssc_test.h5",
        _ => throw new ArgumentOutOfRangeException(nameof(file), file, "Unknown Heidelberg file."),
    };

    /// <summary>Makes sure the decompressed file is in the cache and verified; downloads and decompresses it when not.</summary>
    /// <param name="file">Which file.</param>
    /// <param name="cancellationToken">Cancels the download; partial files are removed.</param>
    /// <returns>The path of the decompressed <c>.h5</c> file, ready for <see cref="HeidelbergSpikeFile.Read"/>.</returns>
    /// <exception cref="IOException">The download failed (network, HTTP error); the message says where to put the file by hand.</exception>
    /// <exception cref="InvalidDataException">The download's MD5 differs from the expected one, or the archive is not valid gzip.</exception>
    public Task<string> EnsureAsync(HeidelbergFile file, CancellationToken cancellationToken = default) =>
        EnsureAsync(FileName(file), cancellationToken);

    /// <summary>Like <see cref="EnsureAsync(HeidelbergFile, CancellationToken)"/> for any file published as <c>&lt;fileName&gt;.gz</c>.</summary>
    /// <param name="fileName">Name of the decompressed file, e.g. "shd_train.h5"; the server holds "shd_train.h5.gz".</param>
    /// <param name="cancellationToken">Cancels the download; partial files are removed.</param>
    /// <returns>The path of the decompressed file.</returns>
    public async Task<string> EnsureAsync(string fileName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        if (fileName != Path.GetFileName(fileName))
            throw new ArgumentException($"'{fileName}' must be a bare file name, not a path.", nameof(fileName));
        Directory.CreateDirectory(CacheDirectory);
        string archiveName = fileName + ".gz";
        string target = Path.Combine(CacheDirectory, fileName);
        string archive = Path.Combine(CacheDirectory, archiveName);
        string record = target + ".md5";

        // A verified file needs no network: with a pinned checksum the record must match it; without one, the record
        // itself was written only after the archive matched the checksum the server listed at the time.
        string? pinned = PinnedMd5(archiveName);
        if (await IsVerifiedAsync(target, record, pinned, cancellationToken).ConfigureAwait(false))
            return target;
        string expected = pinned ?? await ServerMd5Async(archiveName, cancellationToken).ConfigureAwait(false);

        string? cachedArchiveMd5 = File.Exists(archive) ? await Md5OfFileAsync(archive, cancellationToken).ConfigureAwait(false) : null;
        if (cachedArchiveMd5 != expected)
        {
            try
            {
                await DownloadVerifiedAsync(archiveName, archive, expected, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e) when (cachedArchiveMd5 is not null)
            {
                throw new IOException($"{e.Message} The {archiveName} already in the cache has MD5 {cachedArchiveMd5}, not {expected}; replace it.", e);
            }
        }

        string targetMd5 = await DecompressAsync(archive, target, cancellationToken).ConfigureAwait(false);
        WriteAtomically(record, $"{expected}  {archiveName}\n{targetMd5}  {fileName}\n");
        File.Delete(archive);
        return target;
    }

    /// <summary>Synchronous form of <see cref="EnsureAsync(HeidelbergFile, CancellationToken)"/>.</summary>
    /// <param name="file">Which file.</param>
    /// <returns>The path of the decompressed <c>.h5</c> file.</returns>
    public string Ensure(HeidelbergFile file) => EnsureAsync(file).GetAwaiter().GetResult();

    private string? PinnedMd5(string archiveName) =>
        _pinnedMd5.TryGetValue(archiveName, out var pinned) ? NormaliseMd5(pinned, archiveName, "the checksum table") : null;

    private async Task<string> ServerMd5Async(string archiveName, CancellationToken cancellationToken)
    {
        var listUri = new Uri(BaseUri, ChecksumListName);
        if (_serverMd5 is null)
        {
            using var buffer = new MemoryStream();
            string? failure = await TryDownloadToAsync(listUri, buffer, cancellationToken).ConfigureAwait(false);
            if (failure is not null)
                throw new IOException($"{archiveName}: no pinned MD5 and could not fetch {listUri} ({failure}); without network, put {archiveName} in '{CacheDirectory}' and pass its MD5 (from {ChecksumListName} on the dataset page) to HeidelbergDownloader, or read a decompressed .h5 directly with HeidelbergSpikeFile.Read.");
            _serverMd5 = ParseChecksumList(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        }
        if (_serverMd5.TryGetValue(archiveName, out var listed)) return NormaliseMd5(listed, archiveName, ChecksumListName);
        throw new InvalidDataException($"{archiveName}: no MD5 checksum known and {listUri} does not list it; pass its checksum to HeidelbergDownloader.");
    }

    private static string NormaliseMd5(string md5, string archiveName, string source)
    {
        string value = md5.Trim().ToLowerInvariant();
        if (value.Length != 32 || !value.All(Uri.IsHexDigit))
            throw new ArgumentException($"{archiveName}: checksum '{md5}' from {source} is not a 32-digit hexadecimal MD5.");
        return value;
    }

    /// <summary>Parses "md5  filename" lines (as written by md5sum; a leading '*' on the name is ignored).</summary>
    internal static Dictionary<string, string> ParseChecksumList(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0].Length == 32 && parts[0].All(Uri.IsHexDigit))
                result[parts[1].TrimStart('*')] = parts[0].ToLowerInvariant();
        }
        return result;
    }

    private static async Task<bool> IsVerifiedAsync(string target, string record, string? expectedArchiveMd5, CancellationToken cancellationToken)
    {
        if (!File.Exists(target) || !File.Exists(record)) return false;
        var lines = (await File.ReadAllLinesAsync(record, cancellationToken).ConfigureAwait(false))
            .Select(l => l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).ToArray();
        if (lines.Length < 2 || lines[0].Length < 1 || lines[1].Length < 1) return false;
        if (expectedArchiveMd5 is not null && !string.Equals(lines[0][0], expectedArchiveMd5, StringComparison.OrdinalIgnoreCase)) return false;
        return string.Equals(await Md5OfFileAsync(target, cancellationToken).ConfigureAwait(false), lines[1][0], StringComparison.OrdinalIgnoreCase);
    }

    private async Task DownloadVerifiedAsync(string archiveName, string archive, string expected, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseUri, archiveName);
        string temp = TempPathFor(archive);
        try
        {
            string? failure;
            string actual;
            await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, CopyBufferSize, useAsync: true))
            {
                using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
                failure = await TryDownloadToAsync(uri, output, cancellationToken, md5).ConfigureAwait(false);
                actual = Convert.ToHexStringLower(md5.GetHashAndReset());
            }
            if (failure is not null)
                throw new IOException($"{archiveName}: could not download {uri} ({failure}); without network, download it by hand and put it in '{CacheDirectory}' (it is checked by MD5 and decompressed on the next run), or read a decompressed .h5 directly with HeidelbergSpikeFile.Read.");
            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"{archiveName}: MD5 of the download from {uri} is {actual}, expected {expected}; the download is corrupt (try again) or the published file changed (pass its new checksum).");
            File.Move(temp, archive, overwrite: true);
        }
        finally
        {
            TryDelete(temp);
        }
    }

    /// <summary>
    /// Streams <paramref name="uri"/> into <paramref name="output"/> (hashing it into <paramref name="md5"/> when given).
    /// Returns null on success, else why the transfer failed (network error, HTTP status, stall, short transfer).
    /// </summary>
    private async Task<string?> TryDownloadToAsync(Uri uri, Stream output, CancellationToken cancellationToken, IncrementalHash? md5 = null)
    {
        try
        {
            using var headerTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            headerTimeout.CancelAfter(StallTimeout);
            using var response = await _http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, headerTimeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                return $"the server answered {(int)response.StatusCode} {response.ReasonPhrase}";
            long? announced = response.Content.Headers.ContentLength;
            await using var input = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = new byte[CopyBufferSize];
            long received = 0;
            while (true)
            {
                int n;
                using (var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    stall.CancelAfter(StallTimeout);
                    n = await input.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                }
                if (n == 0) break;
                md5?.AppendData(buffer, 0, n);
                await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                received += n;
            }
            if (announced is long length && received != length)
                return $"the transfer ended after {received} of {length} bytes";
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"no data for {StallTimeout.TotalSeconds:0.#} s";
        }
        catch (HttpRequestException e)
        {
            return ErrorText.OneLine(e.Message);
        }
        catch (IOException e) // a connection reset mid-transfer (or a full disk: the reason is in the message)
        {
            return ErrorText.OneLine(e.Message);
        }
    }

    /// <summary>Decompresses <paramref name="archive"/> into <paramref name="target"/> atomically; returns the MD5 of the output.</summary>
    private static async Task<string> DecompressAsync(string archive, string target, CancellationToken cancellationToken)
    {
        string temp = TempPathFor(target);
        try
        {
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            await using (var input = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferSize, useAsync: true))
            await using (var gzip = new GZipStream(input, CompressionMode.Decompress))
            await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, CopyBufferSize, useAsync: true))
            {
                var buffer = new byte[CopyBufferSize];
                int n;
                try
                {
                    while ((n = await gzip.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        md5.AppendData(buffer, 0, n);
                        await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"{Path.GetFileName(archive)}: not valid gzip data ({ErrorText.OneLine(e.Message)}); delete it and download again.", e);
                }
            }
            File.Move(temp, target, overwrite: true);
            return Convert.ToHexStringLower(md5.GetHashAndReset());
        }
        finally
        {
            TryDelete(temp);
        }
    }

    private static async Task<string> Md5OfFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferSize, useAsync: true);
        return Convert.ToHexStringLower(await MD5.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
    }

    private static void WriteAtomically(string path, string text)
    {
        string temp = TempPathFor(path);
        try
        {
            File.WriteAllText(temp, text);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            TryDelete(temp);
        }
    }

    /// <summary>A fresh temporary name next to <paramref name="path"/> (same directory, so the final rename is atomic).</summary>
    internal static string TempPathFor(string path) =>
        $"{path}.{Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture)[..12]}.part";

    private static void TryDelete(string path)
    {
        try
        {
            if (File.Exists(path)) File.Delete(path);
        }
        catch (IOException)
        {
            // best effort: the temp name is unique and never read as a result
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
