using System.Threading.Channels;

namespace Postern.Store;

/// <summary>
/// In-process per-account change feed. The single writer publishes each committed batch's events in MODSEQ order;
/// every subscriber has a bounded buffer: when it is full the subscriber gets one <see cref="FeedOverflow"/> and
/// nothing more until it has read it, so a stalled IDLE session costs bounded memory.
/// </summary>
public sealed class ChangeFeed(Action<IReadOnlyList<StoreChange>>? published = null)
{
    private readonly Lock _lock = new();
    private Subscription[] _subscribers = [];

    /// <summary>Adds a subscriber with a buffer of <paramref name="capacity"/> events.</summary>
    public IChangeSubscription Subscribe(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var sub = new Subscription(this, capacity);
        lock (_lock) _subscribers = [.. _subscribers, sub];
        return sub;
    }

    /// <summary>Publishes committed changes to every subscriber.</summary>
    public void Publish(IReadOnlyList<StoreChange> changes)
    {
        if (changes.Count == 0) return;
        published?.Invoke(changes);
        var subs = Volatile.Read(ref _subscribers);
        foreach (var s in subs)
        {
            foreach (var c in changes) s.Offer(c);
        }
    }

    /// <summary>Ends every subscription (the account store is closing).</summary>
    public void CompleteAll()
    {
        Subscription[] subs;
        lock (_lock)
        {
            subs = _subscribers;
            _subscribers = [];
        }
        foreach (var s in subs) s.Complete();
    }

    private void Remove(Subscription sub)
    {
        lock (_lock) _subscribers = [.. _subscribers.Where(s => s != sub)];
    }

    private sealed class Subscription(ChangeFeed feed, int capacity) : IChangeSubscription
    {
        private static readonly FeedOverflow Overflow = new();
        private readonly Channel<StoreChange> _channel = Channel.CreateUnbounded<StoreChange>(new UnboundedChannelOptions { SingleWriter = true });
        private int _count;
        private int _overflowed;

        public void Offer(StoreChange change)
        {
            if (Volatile.Read(ref _overflowed) != 0) return;
            if (Volatile.Read(ref _count) >= capacity)
            {
                Volatile.Write(ref _overflowed, 1);
                Interlocked.Increment(ref _count);
                _channel.Writer.TryWrite(Overflow);
                return;
            }
            Interlocked.Increment(ref _count);
            _channel.Writer.TryWrite(change);
        }

        public void Complete() => _channel.Writer.TryComplete();

        private StoreChange Taken(StoreChange c)
        {
            Interlocked.Decrement(ref _count);
            if (c is FeedOverflow) Volatile.Write(ref _overflowed, 0);
            return c;
        }

        public async ValueTask<StoreChange> ReadAsync(CancellationToken cancellationToken = default) =>
            Taken(await _channel.Reader.ReadAsync(cancellationToken).ConfigureAwait(false));

        public bool TryRead(out StoreChange? change)
        {
            if (_channel.Reader.TryRead(out var c))
            {
                change = Taken(c);
                return true;
            }
            change = null;
            return false;
        }

        public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _channel.Reader.WaitToReadAsync(cancellationToken);

        public void Dispose()
        {
            feed.Remove(this);
            Complete();
        }
    }
}
