using Bazaar.Hosting;

namespace Bazaar.UnitTests.Hosting;

/// <summary>With --runtime docker the same servers run as containers: same ports, credentials and data directory.</summary>
public sealed class ContainerCommandLineTests
{
    private static readonly ServerLaunchContext Context = new("/data/.bazaar/server", _ => { });

    private static T Allocated<T>(T server, int port, string user, string password)
        where T : BackingServerResource
    {
        server.PrimaryEndpoint.AllocatedPorts = [port];
        server.Credentials = new ServerCredentials(user, password);
        return server;
    }

    [Fact]
    public void Redis_runs_as_the_redis_7_container_with_its_password_and_data_mount()
    {
        RedisResource redis = Allocated(new RedisResource("cache"), 16379, "default", "pw1");

        Assert.Equal(
            "docker run --rm --name bazaar-cache-16379 --hostname bazaar-cache -p 127.0.0.1:16379:6379 "
            + "-v /data/.bazaar/server/container:/data redis:7 redis-server --requirepass pw1 --appendonly yes",
            redis.CreateContainerSpec(Context).CommandLine);
    }

    [Fact]
    public void RabbitMQ_runs_as_the_management_container_with_the_generated_user()
    {
        RabbitMQServerResource rabbit = Allocated(new RabbitMQServerResource("messaging"), 15673, "bazaar", "pw2");

        Assert.Equal(
            "docker run --rm --name bazaar-messaging-15673 --hostname bazaar-messaging -p 127.0.0.1:15673:5672 "
            + "-v /data/.bazaar/server/container:/var/lib/rabbitmq -e RABBITMQ_DEFAULT_PASS=pw2 -e RABBITMQ_DEFAULT_USER=bazaar rabbitmq:3-management",
            rabbit.CreateContainerSpec(Context).CommandLine);
    }

    [Fact]
    public void MySql_runs_as_the_mysql_8_container_with_the_root_password()
    {
        MySqlServerResource mysql = Allocated(new MySqlServerResource("mysql"), 13306, "root", "pw3");

        Assert.Equal(
            "docker run --rm --name bazaar-mysql-13306 --hostname bazaar-mysql -p 127.0.0.1:13306:3306 "
            + "-v /data/.bazaar/server/container:/var/lib/mysql -e MYSQL_ROOT_PASSWORD=pw3 mysql:8",
            mysql.CreateContainerSpec(Context).CommandLine);
    }

    [Fact]
    public void The_container_and_the_local_server_give_the_same_connection_string()
    {
        MySqlServerResource mysql = Allocated(new MySqlServerResource("mysql"), 13306, "root", "pw3");
        var database = new MySqlDatabaseResource("orderdb", "orderdb", mysql);

        Assert.Equal("Server=127.0.0.1;Port=13306;User ID=root;Password=pw3;Database=orderdb;SslMode=None", database.GetConnectionString());
    }

    [Fact]
    public void The_local_servers_bind_to_loopback_only()
    {
        RedisResource redis = Allocated(new RedisResource("cache"), 16379, "default", "pw1");
        MySqlServerResource mysql = Allocated(new MySqlServerResource("mysql"), 13306, "root", "pw3");
        RabbitMQServerResource rabbit = Allocated(new RabbitMQServerResource("messaging"), 15673, "bazaar", "pw2");
        rabbit.DistributionEndpoint.AllocatedPorts = [25673];

        Assert.Contains("--bind 127.0.0.1", redis.CreateProcessSpec(Context).CommandLine, StringComparison.Ordinal);
        Assert.Contains("--bind-address=127.0.0.1", mysql.CreateProcessSpec(Context).CommandLine, StringComparison.Ordinal);
        Assert.Equal("127.0.0.1", rabbit.CreateProcessSpec(Context).Environment["RABBITMQ_NODE_IP_ADDRESS"]);
        Assert.Equal("25673", rabbit.CreateProcessSpec(Context).Environment["RABBITMQ_DIST_PORT"]);
    }

    [Fact]
    public void MariaDB_keeps_its_temporary_tables_in_its_own_directory_not_the_shared_tmp()
    {
        // A starting mariadbd deletes every #sql file in its tmpdir: in a shared /tmp, another server's temporary tables.
        MySqlServerResource mysql = Allocated(new MySqlServerResource("mysql"), 13306, "root", "pw3");

        Assert.Contains("--tmpdir=/data/.bazaar/server/tmp", mysql.CreateProcessSpec(Context).Arguments);
    }
}
