// What `postern queue ...` does, whether the request arrives through the control socket of a
// running server or the command works directly on the data folder of a stopped one: the same
// code runs against an OutgoingQueue either way, so both paths answer alike.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Postern.Queue;

namespace Postern.Serve;

/// <summary>A queue command as the CLI sends it (JSON after "queue " on the control socket).</summary>
internal sealed record QueueRequest(string Verb, long Id = 0, string? Account = null, string? Domain = null, bool? Held = null,
    bool All = false, DateTimeOffset? At = null, string? Address = null);

/// <summary>Runs queue commands and formats their answers.</summary>
internal static class QueueControl
{
    public const string Prefix = "queue ";

    public static string Encode(QueueRequest request) => Prefix + JsonSerializer.Serialize(request);

    public static QueueRequest? Decode(string line)
    {
        try
        {
            return line.StartsWith(Prefix, StringComparison.Ordinal) ? JsonSerializer.Deserialize<QueueRequest>(line[Prefix.Length..]) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Runs a request; the answer starts with "error: " when it failed.</summary>
    public static async Task<string> RunAsync(OutgoingQueue queue, QueueRequest r, CancellationToken ct = default)
    {
        var o = new StringBuilder();
        switch (r.Verb)
        {
            case "list":
            {
                var items = await queue.Store.ListAsync(new QueueListFilter(r.Account, r.Domain, r.Held, r.All), ct).ConfigureAwait(false);
                if (items.Count == 0) return "queue is empty\n";
                o.AppendLine("ID\tDOMAIN\tSTATE\tATTEMPTS\tNEXT ATTEMPT\tACCOUNT\tFROM\tRCPTS\tSIZE\tLAST ERROR");
                foreach (var i in items)
                {
                    string state = i.Delivery.State.ToString().ToLowerInvariant() + (i.Delivery.Held ? ",held" : "");
                    o.AppendLine(CultureInfo.InvariantCulture, $"{i.Message.Id}\t{i.Delivery.Domain}\t{state}\t{i.Delivery.Attempts}\t{Time(i.Delivery.NextAttempt)}\t{i.Message.Account ?? "-"}\t<{i.Message.MailFrom}>\t{i.Recipients}\t{i.Message.Size}\t{i.Delivery.LastError ?? ""}");
                }
                return o.ToString();
            }
            case "show":
            {
                var d = await queue.Store.GetAsync(r.Id, ct).ConfigureAwait(false);
                if (d is null) return NoSuch(r.Id);
                var m = d.Message;
                o.AppendLine(CultureInfo.InvariantCulture, $"message {m.Id}: from <{m.MailFrom}> account {m.Account ?? "-"} size {m.Size} queued {Time(m.Created)}");
                o.AppendLine(CultureInfo.InvariantCulture, $"  envid {m.EnvelopeId ?? "-"}  ret {m.Return ?? "-"}  message-id {m.MessageIdHeader ?? "-"}  flags {m.Flags}{(m.HoldUntil is { } h ? "  hold-until " + Time(h) : "")}");
                foreach (var del in d.Deliveries)
                {
                    string when = del.State == DeliveryState.Queued ? ", next " + Time(del.NextAttempt) : ", finished " + (del.Finished is { } f ? Time(f) : "-");
                    o.AppendLine(CultureInfo.InvariantCulture, $"delivery {del.Id} to {del.Domain}: {del.State.ToString().ToLowerInvariant()}{(del.Held ? " (held)" : "")}, {del.Attempts} attempt(s){when}");
                    foreach (var rc in d.Recipients.Where(x => x.DeliveryId == del.Id))
                        o.AppendLine(CultureInfo.InvariantCulture, $"  {rc.Address}: {rc.State.ToString().ToLowerInvariant()}{(rc.Code != 0 ? $" {rc.Code} {rc.Enhanced} {rc.Text}" : "")}{(rc.Notify is null ? "" : " NOTIFY=" + rc.Notify)}");
                    foreach (var a in d.Attempts.Where(x => x.DeliveryId == del.Id))
                    {
                        o.AppendLine(CultureInfo.InvariantCulture, $"  attempt {Time(a.Time)} via {a.Transport} host {a.Host ?? "-"} ip {a.Ip ?? "-"} tls {a.Tls}");
                        foreach (string line in a.Result.Split('\n')) o.AppendLine("    " + line);
                    }
                }
                foreach (var e in d.Events) o.AppendLine(CultureInfo.InvariantCulture, $"event {Time(e.Time)} {e.Kind}: {e.Text}");
                return o.ToString();
            }
            case "hold":
                return await Exists(queue, r.Id, ct).ConfigureAwait(false) ? $"held {await queue.HoldAsync(r.Id, ct).ConfigureAwait(false)} delivery(ies)\n" : NoSuch(r.Id);
            case "unhold":
                return await Exists(queue, r.Id, ct).ConfigureAwait(false) ? $"released {await queue.UnholdAsync(r.Id, ct).ConfigureAwait(false)} delivery(ies)\n" : NoSuch(r.Id);
            case "schedule":
            {
                if (!await Exists(queue, r.Id, ct).ConfigureAwait(false)) return NoSuch(r.Id);
                DateTimeOffset when = r.At ?? queue.Options.TimeProvider.GetUtcNow();
                return $"scheduled {await queue.ScheduleAsync(r.Id, when, ct).ConfigureAwait(false)} delivery(ies) for {Time(when)}\n";
            }
            case "fail":
                return await Exists(queue, r.Id, ct).ConfigureAwait(false) ? $"failed {await queue.FailAsync(r.Id, ct).ConfigureAwait(false)} recipient(s)\n" : NoSuch(r.Id);
            case "drop":
                return await queue.DropAsync(r.Id, ct).ConfigureAwait(false) ? $"dropped message {r.Id}\n" : NoSuch(r.Id);
            case "suppression-list":
            {
                var list = await queue.Store.ListSuppressionsAsync(r.Account, ct).ConfigureAwait(false);
                if (list.Count == 0) return "suppression list is empty\n";
                foreach (var s in list) o.AppendLine(CultureInfo.InvariantCulture, $"{s.Account}\t{s.Address}\t{Time(s.Added)}\t{s.Reason}");
                return o.ToString();
            }
            case "suppression-rm":
                return await queue.Store.RemoveSuppressionAsync(r.Account ?? "", r.Address ?? "", ct).ConfigureAwait(false)
                    ? $"removed {r.Address} from the suppression list of {r.Account}\n"
                    : $"error: {r.Address} is not on the suppression list of {r.Account}\n";
            default:
                return $"error: unknown queue command \"{r.Verb}\"\n";
        }
    }

    private static async Task<bool> Exists(OutgoingQueue q, long id, CancellationToken ct) => await q.Store.GetAsync(id, ct).ConfigureAwait(false) is not null;

    private static string NoSuch(long id) => $"error: no message {id} in the queue\n";

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
