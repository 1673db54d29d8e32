namespace Bazaar.Data.Migrations;

/// <summary>An applied migration's file changed afterwards: the database no longer matches what the code says it is.</summary>
public sealed class MigrationChecksumMismatchException(string database, string scope, Migration migration, string appliedChecksum)
    : InvalidOperationException(
        $"Migration {migration.Name} (version {migration.Version} of {scope}) was changed after it was applied to database '{database}': " +
        $"applied checksum {appliedChecksum}, file checksum {migration.Checksum}. " +
        "Refusing to start. Restore the file as it was applied and put the change in a new migration with a higher version.")
{
    public string Database { get; } = database;

    public string Scope { get; } = scope;

    public int Version { get; } = migration.Version;
}
