using Bazaar.Data.Migrations;

namespace Bazaar.UnitTests.Data;

public sealed class MigrationTests
{
    [Theory]
    [InlineData("0001_create_products.sql", 1)]
    [InlineData("12-add-stock.sql", 12)]
    [InlineData("0100_x.sql", 100)]
    public void The_version_is_the_leading_number_of_the_file_name(string fileName, int version) =>
        Assert.Equal(version, Migration.ParseVersion(fileName));

    [Theory]
    [InlineData("create_products.sql")]
    [InlineData("0000_zero.sql")]
    public void A_file_without_a_positive_leading_number_is_refused_with_the_naming_rule(string fileName)
    {
        var failure = Assert.Throws<InvalidOperationException>(() => Migration.ParseVersion(fileName));
        Assert.Contains("0001_create_products.sql", failure.Message);
    }

    [Fact]
    public void Migrations_are_ordered_by_version_not_by_name()
    {
        var ordered = Migration.Order([new(10, "10_b.sql", "b"), new(2, "2_a.sql", "a")]);
        Assert.Equal([2, 10], ordered.Select(m => m.Version));
    }

    [Fact]
    public void Two_files_with_one_version_are_refused()
    {
        var failure = Assert.Throws<InvalidOperationException>(() => Migration.Order([new(1, "0001_a.sql", "a"), new(1, "0001_b.sql", "b")]));
        Assert.Contains("0001_a.sql and 0001_b.sql", failure.Message);
    }

    [Fact]
    public void The_checksum_ignores_line_endings_and_a_byte_order_mark_but_not_content()
    {
        var unix = new Migration(1, "0001.sql", "CREATE TABLE t (id INT);\nSELECT 1;");
        var windows = new Migration(1, "0001.sql", "\uFEFFCREATE TABLE t (id INT);\r\nSELECT 1;");
        var edited = new Migration(1, "0001.sql", "CREATE TABLE t (id BIGINT);\nSELECT 1;");

        Assert.Equal(unix.Checksum, windows.Checksum);
        Assert.NotEqual(unix.Checksum, edited.Checksum);
        Assert.Equal(64, unix.Checksum.Length);
    }

    [Fact]
    public void The_messaging_library_embeds_its_outbox_and_inbox_migrations_in_order()
    {
        var migrations = Migration.FromAssembly(typeof(Bazaar.Messaging.IOutbox).Assembly);
        Assert.Equal(["0001_outbox_and_inbox.sql", "0002_outbox_unroutable_retry.sql", "0003_outbox_due_index.sql"], migrations.Select(m => m.Name));
        var migration = migrations[0];
        Assert.Contains("CREATE TABLE outbox", migration.Sql);
        Assert.Contains("CREATE TABLE inbox", migration.Sql);
    }

    [Fact]
    public void The_lock_name_fits_the_64_character_limit_of_GET_LOCK_and_differs_per_database()
    {
        var longName = new string('d', 64);
        Assert.InRange(MigrationRunner.LockName(longName).Length, 1, 64);
        Assert.NotEqual(MigrationRunner.LockName(longName), MigrationRunner.LockName(longName + "x"));
        Assert.Equal("bazaar-migrations:catalogdb", MigrationRunner.LockName("catalogdb"));
    }

    [Fact]
    public void A_checksum_mismatch_names_the_file_the_database_and_the_fix()
    {
        var migration = new Migration(3, "0003_add_stock.sql", "ALTER TABLE x ADD y INT;");
        var failure = new MigrationChecksumMismatchException("catalogdb", "Bazaar.Catalog.Api", migration, new string('0', 64));

        Assert.Contains("0003_add_stock.sql", failure.Message);
        Assert.Contains("'catalogdb'", failure.Message);
        Assert.Contains("new migration", failure.Message);
    }
}
