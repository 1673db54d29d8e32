using Bazaar.Data;

namespace Bazaar.UnitTests.Data;

public sealed class SqlBatchTests
{
    [Fact]
    public void Rows_of_a_multi_row_insert_get_parameters_numbered_across_the_whole_batch_and_no_values_in_the_text()
    {
        var batch = new SqlBatch("test.batch")
            .Insert("INSERT INTO a (x, y) VALUES").Row(1, "secret-one").Row(2, null).End()
            .Insert("INSERT INTO b (z) VALUES").Row("secret-two").End()
            .Statement("DELETE FROM c");

        Assert.Equal(
            "INSERT INTO a (x, y) VALUES (@b0, @b1),\n(@b2, @b3);\nINSERT INTO b (z) VALUES (@b4);\nDELETE FROM c;\n",
            batch.ToString());
        Assert.Equal(5, batch.ParameterCount);
        Assert.DoesNotContain("secret", batch.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_batch_says_so()
    {
        Assert.True(new SqlBatch("test.empty").IsEmpty);
        Assert.False(new SqlBatch("test.one").Statement("SELECT 1").IsEmpty);
    }
}
