using System.Text;
using Bazaar.Messaging;
using Microsoft.Extensions.Options;

namespace Bazaar.UnitTests.Messaging;

public sealed class TopologyTests
{
    [Fact]
    public void Every_name_starts_with_the_prefix_so_parallel_tests_never_collide()
    {
        var topology = MessagingTopology.From(new MessagingOptions
        {
            Prefix = "t1.",
            ServiceName = "order-api",
            RetryDelays = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(250)],
        });

        Assert.Equal("t1.events", topology.Exchange);
        Assert.Equal("t1.order-api", topology.Queue);
        Assert.Equal("t1.order-api.dlq", topology.DeadLetterQueue);
        Assert.Equal(["t1.order-api.retry.1s", "t1.order-api.retry.10s", "t1.order-api.retry.250ms"], Enumerable.Range(0, 3).Select(topology.RetryQueue));
    }

    [Fact]
    public void Header_values_read_back_whether_the_broker_returns_bytes_or_numbers()
    {
        var headers = new Dictionary<string, object?>
        {
            [MessageHeaders.Attempt] = 2,
            [MessageHeaders.DeadLetterReason] = Encoding.UTF8.GetBytes("boom"),
            ["long"] = 7L,
        };

        Assert.Equal(2, MessageHeaders.GetInt(headers, MessageHeaders.Attempt));
        Assert.Equal(7, MessageHeaders.GetInt(headers, "long"));
        Assert.Equal("boom", MessageHeaders.GetString(headers, MessageHeaders.DeadLetterReason));
        Assert.Equal(0, MessageHeaders.GetInt(headers, "absent"));
        Assert.Null(MessageHeaders.GetString(null, "absent"));
    }

    [Fact]
    public void Options_without_a_service_name_or_with_a_non_positive_delay_fail_validation()
    {
        var result = new MessagingOptionsValidator().Validate(null, new MessagingOptions { ServiceName = "", RetryDelays = [TimeSpan.Zero] });

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("ServiceName", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("RetryDelays", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1001)]
    public void A_consumer_batch_size_outside_1_to_1000_fails_validation(int batchSize)
    {
        var result = new MessagingOptionsValidator().Validate(null, new MessagingOptions { ServiceName = "worker", ConsumerBatchSize = batchSize });

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("ConsumerBatchSize", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(-1, 32)]
    [InlineData(6000, 32)]
    [InlineData(50, 0)]
    public void A_gather_delay_outside_0_to_5_s_or_no_gather_rows_fails_validation(int delayMilliseconds, int rows)
    {
        var options = new MessagingOptions { ServiceName = "worker", RelayGatherDelay = TimeSpan.FromMilliseconds(delayMilliseconds), RelayGatherRows = rows };

        var result = new MessagingOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("RelayGather", StringComparison.Ordinal));
    }

    [Fact]
    public void Default_options_are_valid_once_a_service_name_is_set() =>
        Assert.Equal(ValidateOptionsResult.Success, new MessagingOptionsValidator().Validate(null, new MessagingOptions { ServiceName = "worker", RetryDelays = [TimeSpan.FromSeconds(1)] }));
}
