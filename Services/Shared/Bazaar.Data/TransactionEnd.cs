using System.Data.Common;
using System.Runtime.CompilerServices;

namespace Bazaar.Data;

/// <summary>
/// Work to run once a transaction run by <see cref="DataSourceWork"/> has ended, committed or rolled back: for notices
/// that must not go out before the commit (a hint to status streams, say). Transactions begun elsewhere never report
/// their end here.
/// </summary>
public static class TransactionEnd
{
    private static readonly ConditionalWeakTable<DbTransaction, List<Action>> Pending = [];

    /// <summary>Runs <paramref name="action"/> once <paramref name="transaction"/> has ended (best effort: its exceptions are dropped).</summary>
    public static void Register(DbTransaction transaction, Action action)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(action);
        List<Action> actions = Pending.GetValue(transaction, static _ => []);
        lock (actions)
        {
            actions.Add(action);
        }
    }

    /// <summary>Called by the runner once <paramref name="transaction"/> has committed or rolled back.</summary>
    internal static void Ended(DbTransaction transaction)
    {
        if (!Pending.TryGetValue(transaction, out List<Action>? actions))
        {
            return;
        }

        Pending.Remove(transaction);
        Action[] due;
        lock (actions)
        {
            due = [.. actions];
        }

        foreach (Action action in due)
        {
            try
            {
                action();
            }
            catch (Exception)
            {
                // A notice after the fact must not turn a committed transaction into a failed one.
            }
        }
    }
}
