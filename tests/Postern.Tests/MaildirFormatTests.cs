using System.Text;
using Postern.Import;
using Postern.Store;

namespace Postern.Tests;

public class MaildirFormatTests
{
    [Theory]
    [InlineData("INBOX", "INBOX")]
    [InlineData("Café", "Caf&AOk-")]
    [InlineData("a&b", "a&-b")]
    [InlineData("日本語", "&ZeVnLIqe-")]
    public void Modified_utf7_round_trips(string name, string encoded)
    {
        Assert.Equal(encoded, MailboxNameCodec.EncodeModifiedUtf7(name));
        Assert.Equal(name, MailboxNameCodec.DecodeModifiedUtf7(encoded));
    }

    [Theory]
    [InlineData("Lists/dev", ".Lists.dev")]
    [InlineData("v1.2/notes", ".v1&AC4-2.notes")]
    public void Maildir_folder_names_keep_dots_inside_names(string mailbox, string folder)
    {
        Assert.Equal(folder, MailboxNameCodec.ToMaildirFolder(mailbox));
        Assert.Equal(mailbox, MailboxNameCodec.FromMaildirFolder(folder));
    }

    [Theory]
    [InlineData("Lists/dev")]
    [InlineData("a:b?c*d")]
    [InlineData("..")]
    [InlineData("trailing.")]
    [InlineData("100%")]
    [InlineData("Café/Ünïcode")]
    public void File_system_paths_map_back_to_the_mailbox_name(string mailbox)
    {
        var path = MailboxNameCodec.ToFileSystemPath(mailbox);
        Assert.DoesNotContain(':', path);
        Assert.Equal(mailbox, MailboxNameCodec.FromFileSystemPath(path));
    }

    [Fact]
    public void Info_letters_map_to_flags_and_keywords_in_ascii_order()
    {
        var names = new List<string?> { "$Work", "Later" };
        var (flags, keywords) = MaildirFlags.FromLetters("DFPRSTab", names);
        Assert.Equal(SystemFlags.Draft | SystemFlags.Flagged | SystemFlags.Answered | SystemFlags.Seen | SystemFlags.Deleted, flags);
        Assert.Equal(["$Forwarded", "$Work", "Later"], keywords);

        var known = new List<string> { "Later" };
        var (letters, lost) = MaildirFlags.ToLetters(SystemFlags.Seen | SystemFlags.Draft, ["$Forwarded", "New", "later"], known);
        Assert.Equal("DPSab", letters);
        Assert.Empty(lost);
        Assert.Equal(["Later", "New"], known);
    }

    [Fact]
    public void More_than_26_keywords_are_reported_as_lost()
    {
        var known = Enumerable.Range(0, 26).Select(i => "k" + i).ToList();
        var (letters, lost) = MaildirFlags.ToLetters(SystemFlags.None, ["k0", "extra"], known);
        Assert.Equal("a", letters);
        Assert.Equal(["extra"], lost);
    }

    [Theory]
    [InlineData("1700.M1P2.host:2,FS", "1700.M1P2.host", "FS")]
    [InlineData("1700.M1P2.host;2,S", "1700.M1P2.host", "S")]
    [InlineData("1700.M1P2.host", "1700.M1P2.host", "")]
    [InlineData("1700.M1P2.host:1,xyz", "1700.M1P2.host", "")]
    public void File_names_split_into_unique_part_and_flags(string name, string unique, string letters)
    {
        Assert.Equal((unique, letters), MaildirFlags.SplitName(name));
    }

    [Fact]
    public void Crlf_normalizer_converts_bare_lf_only()
    {
        var input = "a\nb\r\nc\rd\n\n" + new string('x', 70_000) + "\r" + "\n";
        var output = new MemoryStream();
        CrlfNormalizer.Copy(new MemoryStream(Encoding.Latin1.GetBytes(input)), output);
        Assert.Equal("a\r\nb\r\nc\rd\r\n\r\n" + new string('x', 70_000) + "\r\n", Encoding.Latin1.GetString(output.ToArray()));
    }
}
