using System.Data.Common;
using System.Globalization;
using System.Text;

namespace Bazaar.Data;

/// <summary>
/// Several statements, and multi-row INSERTs, sent as one command: one round trip instead of one per row. The driver
/// substitutes parameters on the client and accepts several statements per command, so a whole group of writes
/// costs one command's overhead. Values always travel as parameters (named <c>@b0</c>, <c>@b1</c>, ... in the order
/// they were given), never spliced into the text.
/// </summary>
public sealed class SqlBatch(string name)
{
    private readonly StringBuilder _text = new(1024);
    private readonly List<object?> _values = [];
    private bool _firstRow;
    private string? _head;
    private string? _endedHead;
    private int _endedAt = -1;

    /// <summary>The span name (for example <c>orders.place_batch</c>).</summary>
    public string Name { get; } = name;

    public bool IsEmpty => _text.Length == 0;

    public int ParameterCount => _values.Count;

    /// <summary>Appends a whole statement of the caller's; its values, if any, go through <see cref="Value"/>.</summary>
    public SqlBatch Statement(string sql)
    {
        _text.Append(sql).Append(";\n");
        return this;
    }

    /// <summary>
    /// Adds <paramref name="value"/> as the batch's next parameter and returns its name, for a statement of the caller's
    /// (<c>batch.Statement($"UPDATE t SET x = {batch.Value(x)} WHERE id = {batch.Value(id)}")</c>): the text holds only the name.
    /// </summary>
    public string Value(object? value)
    {
        string name = "@b" + _values.Count.ToString(CultureInfo.InvariantCulture);
        _values.Add(value);
        return name;
    }

    /// <summary>
    /// Starts a multi-row insert: <paramref name="head"/> is everything up to and including <c>VALUES</c>. An insert with
    /// the same head as the one ended just before continues that one, so writers that each append their own row (the
    /// handlers of one consumer batch, say) still send one statement: the server parses and runs one INSERT, not one
    /// per row. The outcome is the same: the batch's statements succeed or fail, and roll back, together.
    /// </summary>
    public SqlBatch Insert(string head)
    {
        _head = head;
        if (_endedAt == _text.Length && string.Equals(_endedHead, head, StringComparison.Ordinal))
        {
            _text.Length -= EndOfStatement.Length;
            _firstRow = false;
            return this;
        }

        _text.Append(head).Append(' ');
        _firstRow = true;
        return this;
    }

    /// <summary>Adds one row of values to the insert begun by <see cref="Insert"/>.</summary>
    public SqlBatch Row(params ReadOnlySpan<object?> values)
    {
        _text.Append(_firstRow ? "(" : ",\n(");
        _firstRow = false;
        for (int i = 0; i < values.Length; i++)
        {
            if (i > 0)
            {
                _text.Append(", ");
            }

            _text.Append(Value(values[i]));
        }

        _text.Append(')');
        return this;
    }

    /// <summary>Ends the insert begun by <see cref="Insert"/>.</summary>
    public SqlBatch End()
    {
        _text.Append(EndOfStatement);
        (_endedHead, _endedAt) = (_head, _text.Length);
        return this;
    }

    private const string EndOfStatement = ";\n";

    public override string ToString() => _text.ToString();

    /// <summary>Sends every statement as one command; returns the rows changed in all.</summary>
    public Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken = default) =>
        ExecuteAsync(connection, transaction, prefix: null, suffix: null, cancellationToken);

    /// <summary>As <see cref="ExecuteAsync(DbConnection, DbTransaction?, CancellationToken)"/>, with statements of the runner's before and after (BEGIN, COMMIT).</summary>
    internal async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string? prefix, string? suffix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (IsEmpty && prefix is null && suffix is null)
        {
            return 0;
        }

        await using DbCommand command = CreateCommand(connection, transaction, prefix, suffix);
        return await DbConnectionExtensions.RunAsync(connection, Name, command,
            static (command, token) => command.ExecuteNonQueryAsync(token), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends every statement as one command and reads what it returns with <paramref name="read"/> (every result set, in order).</summary>
    internal async Task<T> QueryAsync<T>(DbConnection connection, DbTransaction? transaction, string? prefix, Func<DbDataReader, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using DbCommand command = CreateCommand(connection, transaction, prefix, suffix: null);
        return await DbConnectionExtensions.RunAsync(connection, Name, (Command: command, Read: read), static async (state, token) =>
        {
            await using DbDataReader reader = await state.Command.ExecuteReaderAsync(token).ConfigureAwait(false);
            return await state.Read(reader, token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    private DbCommand CreateCommand(DbConnection connection, DbTransaction? transaction, string? prefix, string? suffix)
    {
        DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = prefix is null && suffix is null ? _text.ToString() : string.Concat(prefix, _text.ToString(), suffix);
        for (int i = 0; i < _values.Count; i++)
        {
            DbParameter parameter = command.CreateParameter();
            parameter.ParameterName = "@b" + i.ToString(CultureInfo.InvariantCulture);
            parameter.Value = _values[i] ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
