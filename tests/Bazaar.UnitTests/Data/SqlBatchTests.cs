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
    public void A_statement_of_the_callers_takes_its_values_as_parameters_numbered_after_the_rows_before_it()
    {
        var batch = new SqlBatch("test.values").Insert("INSERT INTO a (x) VALUES").Row("secret-one").End();
        batch.Statement($"UPDATE b SET y = {batch.Value("secret-two")} WHERE id = {batch.Value(7)}");

        Assert.Equal("INSERT INTO a (x) VALUES (@b0);\nUPDATE b SET y = @b1 WHERE id = @b2;\n", batch.ToString());
        Assert.Equal(3, batch.ParameterCount);
    }

    [Fact]
    public void Inserts_with_the_same_head_appended_one_after_the_other_become_one_multi_row_insert()
    {
        var batch = new SqlBatch("test.merge");
        batch.Insert("INSERT INTO a (x) VALUES").Row(1).End();
        batch.Insert("INSERT INTO a (x) VALUES").Row(2).Row(3).End();
        batch.Insert("INSERT INTO b (x) VALUES").Row(4).End();
        batch.Statement("DELETE FROM c");
        batch.Insert("INSERT INTO b (x) VALUES").Row(5).End();

        Assert.Equal(
            "INSERT INTO a (x) VALUES (@b0),\n(@b1),\n(@b2);\nINSERT INTO b (x) VALUES (@b3);\nDELETE FROM c;\nINSERT INTO b (x) VALUES (@b4);\n",
            batch.ToString());
        Assert.Equal(5, batch.ParameterCount);
    }

    [Fact]
    public void An_empty_batch_says_so()
    {
        Assert.True(new SqlBatch("test.empty").IsEmpty);
        Assert.False(new SqlBatch("test.one").Statement("SELECT 1").IsEmpty);
    }
}
