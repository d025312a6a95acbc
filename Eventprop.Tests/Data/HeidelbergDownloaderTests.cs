using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Eventprop.Core.Data;
using Xunit;

namespace Eventprop.Tests.Data;

public sealed class HeidelbergDownloaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly LocalHttpServer _server = new();
    private readonly byte[] _h5;
    private readonly byte[] _gz;

    public HeidelbergDownloaderTests()
    {
        string h5Path = _dir.File("source.h5");
        HeidelbergLayout.Valid().Write(h5Path);
        _h5 = File.ReadAllBytes(h5Path);
        File.Delete(h5Path);
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(_h5);
        _gz = buffer.ToArray();
    }

    public void Dispose()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    private string Cache => Path.Combine(_dir.Path, "cache");

    private static string Md5(byte[] data) => Convert.ToHexStringLower(MD5.HashData(data));

    private HeidelbergDownloader Downloader(IReadOnlyDictionary<string, string>? checksums = null, Uri? baseUri = null) =>
        new(Cache, baseUri ?? _server.BaseUri, checksums ?? new Dictionary<string, string> { ["shd_train.h5.gz"] = Md5(_gz) })
        {
            StallTimeout = TimeSpan.FromSeconds(10),
        };

    private string[] CacheFiles() => Directory.Exists(Cache)
        ? Directory.GetFiles(Cache).Select(f => Path.GetFileName(f)).Order().ToArray()
        : [];

    private static void AssertOneLine(Exception e, params string[] fragments)
    {
        Assert.DoesNotContain('\n', e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Downloads_verifies_and_decompresses_then_skips_what_is_present()
    {
        _server.Serve("shd_train.h5.gz", _gz);

        string path = await Downloader().EnsureAsync(HeidelbergFile.ShdTrain);

        Assert.Equal(Path.Combine(Cache, "shd_train.h5"), path);
        Assert.Equal(_h5, File.ReadAllBytes(path));
        Assert.Equal(3, HeidelbergSpikeFile.Read(path).Count);
        Assert.Equal(["shd_train.h5", "shd_train.h5.md5"], CacheFiles());
        Assert.Equal(["shd_train.h5.gz"], _server.Requests);

        string again = await Downloader().EnsureAsync(HeidelbergFile.ShdTrain);
        Assert.Equal(path, again);
        Assert.Single(_server.Requests); // present and verified: no second request
    }

    [Fact]
    public async Task Corrupted_download_is_rejected_and_leaves_nothing_behind()
    {
        var corrupted = (byte[])_gz.Clone();
        corrupted[corrupted.Length / 2] ^= 0x5a;
        _server.Serve("shd_train.h5.gz", corrupted);

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => Downloader().EnsureAsync(HeidelbergFile.ShdTrain));

        AssertOneLine(e, "shd_train.h5.gz", "MD5", Md5(corrupted), Md5(_gz));
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public async Task Archive_that_is_not_gzip_is_rejected_and_leaves_nothing_behind()
    {
        var notGzip = System.Text.Encoding.ASCII.GetBytes("<html>a captive portal, not a dataset</html>");
        _server.Serve("shd_train.h5.gz", notGzip);

        var e = await Assert.ThrowsAsync<InvalidDataException>(() =>
            Downloader(new Dictionary<string, string> { ["shd_train.h5.gz"] = Md5(notGzip) }).EnsureAsync(HeidelbergFile.ShdTrain));

        AssertOneLine(e, "shd_train.h5.gz", "not valid gzip");
        Assert.DoesNotContain(CacheFiles(), f => f.StartsWith("shd_train.h5", StringComparison.Ordinal) && f != "shd_train.h5.gz");
    }

    [Fact]
    public async Task Broken_transfer_is_cleaned_up_and_says_where_to_put_the_file()
    {
        _server.Serve("shd_train.h5.gz", _gz, truncate: true);

        var e = await Assert.ThrowsAsync<IOException>(() => Downloader().EnsureAsync(HeidelbergFile.ShdTrain));

        AssertOneLine(e, "shd_train.h5.gz", "by hand", Cache);
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public async Task Stalled_transfer_times_out_and_is_cleaned_up()
    {
        _server.Serve("shd_train.h5.gz", _gz, stall: true);
        var stalling = new HeidelbergDownloader(Cache, _server.BaseUri, new Dictionary<string, string> { ["shd_train.h5.gz"] = Md5(_gz) })
        {
            StallTimeout = TimeSpan.FromMilliseconds(500),
        };

        var e = await Assert.ThrowsAsync<IOException>(() => stalling.EnsureAsync(HeidelbergFile.ShdTrain));

        AssertOneLine(e, "shd_train.h5.gz", "no data for");
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public async Task Without_a_server_the_message_says_where_to_put_the_file_by_hand()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        int port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();

        var e = await Assert.ThrowsAsync<IOException>(() => Downloader(baseUri: new Uri($"http://127.0.0.1:{port}/")).EnsureAsync(HeidelbergFile.ShdTrain));

        AssertOneLine(e, "shd_train.h5.gz", "by hand", Cache);
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public async Task Missing_file_on_the_server_reports_the_status()
    {
        var e = await Assert.ThrowsAsync<IOException>(() => Downloader().EnsureAsync(HeidelbergFile.ShdTrain));
        AssertOneLine(e, "shd_train.h5.gz", "404");
    }

    [Fact]
    public async Task An_archive_put_in_the_cache_by_hand_is_used_without_network()
    {
        Directory.CreateDirectory(Cache);
        File.WriteAllBytes(Path.Combine(Cache, "shd_train.h5.gz"), _gz);

        string path = await Downloader(baseUri: new Uri("http://127.0.0.1:9/")).EnsureAsync(HeidelbergFile.ShdTrain);

        Assert.Equal(_h5, File.ReadAllBytes(path));
        Assert.Equal(["shd_train.h5", "shd_train.h5.md5"], CacheFiles());
    }

    [Fact]
    public async Task A_damaged_cached_file_is_fetched_again()
    {
        _server.Serve("shd_train.h5.gz", _gz);
        string path = await Downloader().EnsureAsync(HeidelbergFile.ShdTrain);
        var damaged = File.ReadAllBytes(path);
        damaged[^1] ^= 0xff;
        File.WriteAllBytes(path, damaged);

        await Downloader().EnsureAsync(HeidelbergFile.ShdTrain);

        Assert.Equal(2, _server.Requests.Count);
        Assert.Equal(_h5, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task Without_a_pinned_checksum_the_servers_md5sums_txt_is_used()
    {
        _server.Serve("ssc_test.h5.gz", _gz);
        _server.Serve("md5sums.txt", System.Text.Encoding.ASCII.GetBytes($"{Md5([1, 2, 3])}  shd_test.h5.gz\n{Md5(_gz)}  ssc_test.h5.gz\n"));
        var downloader = Downloader(checksums: new Dictionary<string, string>());

        string path = await downloader.EnsureAsync(HeidelbergFile.SscTest);

        Assert.Equal(_h5, File.ReadAllBytes(path));

        // the same list rejects a file whose content does not match it
        _server.Serve("shd_test.h5.gz", _gz);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => downloader.EnsureAsync(HeidelbergFile.ShdTest));
        AssertOneLine(e, "shd_test.h5.gz", "MD5");
    }

    [Fact]
    public void Published_checksums_cover_the_shd_files_and_parse_as_md5()
    {
        foreach (var file in new[] { "shd_train.h5.gz", "shd_test.h5.gz" })
        {
            Assert.True(HeidelbergDownloader.PublishedMd5.TryGetValue(file, out var md5));
            Assert.Matches("^[0-9a-f]{32}$", md5);
        }
        var parsed = HeidelbergDownloader.ParseChecksumList("0123456789abcdef0123456789ABCDEF  a.h5.gz\r\nnot a line\n fedcba9876543210fedcba9876543210 *b.h5.gz\n");
        Assert.Equal("0123456789abcdef0123456789abcdef", parsed["a.h5.gz"]);
        Assert.Equal("fedcba9876543210fedcba9876543210", parsed["b.h5.gz"]);
        Assert.Equal(2, parsed.Count);
    }
}
