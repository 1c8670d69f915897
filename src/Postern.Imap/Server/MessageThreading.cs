// THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §4). Input is one entry per matching
// message (sequence number or UID as the id to print, Message-ID, References/In-Reply-To ids,
// base subject, sent date); output is the thread list of the THREAD response.
using System.Text;

namespace Postern.Imap.Server;

internal sealed record ThreadInput(uint Id, int Order, string? MessageId, IReadOnlyList<string> References,
    string BaseSubject, bool IsReply, DateTimeOffset SentDate);

internal static class MessageThreading
{
    private sealed class Node
    {
        public ThreadInput? Message;
        public Node? Parent;
        public List<Node> Children { get; } = [];

        public bool IsDescendantOf(Node other)
        {
            for (Node? p = this; p is not null; p = p.Parent)
            {
                if (p == other)
                    return true;
            }
            return false;
        }

        public void SetParent(Node? parent)
        {
            Parent?.Children.Remove(this);
            Parent = parent;
            parent?.Children.Add(this);
        }

        public ThreadInput? FirstMessage => Message ?? Children.Select(c => c.FirstMessage).FirstOrDefault(m => m is not null);
    }

    public static string OrderedSubject(IReadOnlyList<ThreadInput> messages)
    {
        // RFC 5256 §4.1: group by base subject, sort by sent date, threads by their first message.
        var threads = messages.GroupBy(m => m.BaseSubject, StringComparer.OrdinalIgnoreCase)
            .Select(g => g.OrderBy(m => m.SentDate).ThenBy(m => m.Order).ToList())
            .OrderBy(t => t[0].SentDate).ThenBy(t => t[0].Order);
        var sb = new StringBuilder();
        foreach (var t in threads)
        {
            sb.Append('(').Append(t[0].Id);
            if (t.Count == 2)
                sb.Append(' ').Append(t[1].Id);
            else if (t.Count > 2)
            {
                sb.Append(' ');
                foreach (var m in t.Skip(1))
                    sb.Append('(').Append(m.Id).Append(')');
            }
            sb.Append(')');
        }
        return sb.ToString();
    }

    public static string References(IReadOnlyList<ThreadInput> messages)
    {
        var table = new Dictionary<string, Node>(StringComparer.Ordinal);
        Node Container(string id)
        {
            if (!table.TryGetValue(id, out Node? n))
                table[id] = n = new Node();
            return n;
        }
        int unique = 0;
        foreach (ThreadInput m in messages)
        {
            // §4.2 step 1A: link the references in order, never creating a loop or re-parenting.
            Node? prev = null;
            foreach (string id in m.References)
            {
                Node c = Container(id);
                if (prev is not null && c.Parent is null && !prev.IsDescendantOf(c))
                    c.SetParent(prev);
                prev = c;
            }
            // Step 1B: the message's own container; a duplicate or missing id gets a unique one.
            Node own;
            if (m.MessageId is not null && table.TryGetValue(m.MessageId, out Node? existing) && existing.Message is null)
                own = existing;
            else
                own = Container(m.MessageId is not null && !table.ContainsKey(m.MessageId) ? m.MessageId : "\0unique" + unique++);
            own.Message = m;
            // Step 1C: the parent is the last reference, unless that makes a loop.
            if (prev is not null && prev != own && !prev.IsDescendantOf(own))
                own.SetParent(prev);
            else if (prev is null)
                own.SetParent(null);
        }
        // Step 2: root set.
        var roots = table.Values.Where(n => n.Parent is null).ToList();
        // Step 4: prune dummies.
        roots = Prune(roots, isRoot: true);
        foreach (Node r in roots)
            r.Parent = null;
        // Step 5: group roots by base subject.
        var subjects = new Dictionary<string, Node>(StringComparer.OrdinalIgnoreCase);
        foreach (Node r in roots)
        {
            ThreadInput? first = r.Message ?? r.Children.Select(c => c.Message).FirstOrDefault(x => x is not null);
            string subject = first?.BaseSubject ?? "";
            if (subject.Length == 0)
                continue;
            if (!subjects.TryGetValue(subject, out Node? other)
                || (r.Message is null && other.Message is not null)
                || (other.Message is not null && other.Message.IsReply && r.Message is not null && !r.Message.IsReply))
                subjects[subject] = r;
        }
        var result = new List<Node>();
        foreach (Node r in roots)
        {
            ThreadInput? first = r.Message ?? r.Children.Select(c => c.Message).FirstOrDefault(x => x is not null);
            string subject = first?.BaseSubject ?? "";
            if (subject.Length == 0 || !subjects.TryGetValue(subject, out Node? target) || target == r)
            {
                if (!result.Contains(r))
                    result.Add(r);
                continue;
            }
            if (target.Message is null && r.Message is null)
            {
                foreach (Node c in r.Children.ToList())
                    c.SetParent(target);
            }
            else if (target.Message is null)
            {
                r.SetParent(target);
            }
            else if (r.Message is not null && r.Message.IsReply && !target.Message.IsReply)
            {
                r.SetParent(target);
            }
            else
            {
                var dummy = new Node();
                int idx = result.IndexOf(target);
                target.SetParent(dummy);
                r.SetParent(dummy);
                subjects[subject] = dummy;
                if (idx >= 0)
                    result[idx] = dummy;
                else
                    result.Add(dummy);
                continue;
            }
            if (!result.Contains(target))
                result.Add(target);
        }
        // Step 6: sort siblings by sent date (a dummy by its first child), ties by message order.
        foreach (Node r in result)
            SortTree(r);
        result = result.OrderBy(SortDate).ThenBy(SortOrder).ToList();
        var sb = new StringBuilder();
        foreach (Node r in result)
            sb.Append('(').Append(Render(r)).Append(')');
        return sb.ToString();
    }

    private static List<Node> Prune(List<Node> nodes, bool isRoot)
    {
        var output = new List<Node>();
        foreach (Node n in nodes)
        {
            var kids = Prune(n.Children.ToList(), isRoot: false);
            n.Children.Clear();
            foreach (Node k in kids)
            {
                k.Parent = n;
                n.Children.Add(k);
            }
            if (n.Message is not null)
            {
                output.Add(n);
            }
            else if (n.Children.Count == 0)
            {
                continue;
            }
            else if (isRoot && n.Children.Count > 1)
            {
                output.Add(n);
            }
            else
            {
                // Promote the children of a dummy to its level.
                foreach (Node k in n.Children)
                    k.Parent = isRoot ? null : n.Parent;
                output.AddRange(n.Children);
            }
        }
        return output;
    }

    private static void SortTree(Node n)
    {
        foreach (Node c in n.Children)
            SortTree(c);
        var sorted = n.Children.OrderBy(SortDate).ThenBy(SortOrder).ToList();
        n.Children.Clear();
        n.Children.AddRange(sorted);
    }

    private static DateTimeOffset SortDate(Node n) => n.Message?.SentDate ?? n.Children.FirstOrDefault()?.Message?.SentDate ?? n.FirstMessage?.SentDate ?? DateTimeOffset.MinValue;

    private static int SortOrder(Node n) => n.Message?.Order ?? n.FirstMessage?.Order ?? 0;

    private static string Render(Node n)
    {
        var sb = new StringBuilder();
        if (n.Message is not null)
            sb.Append(n.Message.Id);
        if (n.Children.Count == 1)
        {
            if (sb.Length > 0)
                sb.Append(' ');
            sb.Append(Render(n.Children[0]));
        }
        else if (n.Children.Count > 1)
        {
            if (sb.Length > 0)
                sb.Append(' ');
            foreach (Node c in n.Children)
                sb.Append('(').Append(Render(c)).Append(')');
        }
        return sb.ToString();
    }
}
