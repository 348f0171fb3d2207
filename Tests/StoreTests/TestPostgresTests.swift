import Foundation
import Testing
import PostgresTestSupport

/// The test PostgreSQL itself. When it is broken, every PostgreSQL store test fails too, and
/// these say why in terms of the cluster rather than the store.
struct TestPostgresTests {
    @Test func freshDatabaseIsReachableAndEmpty() throws {
        let first = try TestPostgres.freshDatabase()
        let second = try TestPostgres.freshDatabase()
        #expect(first != second)
        #expect(try TestPostgres.psql(first, "select count(*) from pg_tables where schemaname='public'") == "0")

        // Empty on its own: a table in one fresh database is not in the next.
        try TestPostgres.psql(first, "create table mine (x int)")
        #expect(try TestPostgres.psql(second, "select count(*) from pg_tables where schemaname='public'") == "0")
    }

    /// The durable-accept tests measure real commits: the server must sync them.
    @Test func sharedClusterSyncsCommits() throws {
        #expect(try TestPostgres.psql(try TestPostgres.sharedURL(), "show fsync") == "on")
    }

    @Test func privateClusterKeepsItsDataAcrossStopAndStart() throws {
        let cluster = try PrivateCluster()
        try TestPostgres.psql(cluster.url, "create table kept (x int); insert into kept values (7)")

        try cluster.stop()
        #expect(throws: TestPostgresError.self) { try TestPostgres.psql(cluster.url, "select 1") }

        try cluster.startAgain()
        #expect(try TestPostgres.psql(cluster.url, "select x from kept") == "7")
    }

    @Test func privateClusterKeepsCommitsThroughAKill() throws {
        let cluster = try PrivateCluster()
        try TestPostgres.psql(cluster.url, "create table kept (x int); insert into kept values (8)")

        try cluster.kill()
        #expect(throws: TestPostgresError.self) { try TestPostgres.psql(cluster.url, "select 1") }

        try cluster.startAgain()
        #expect(try TestPostgres.psql(cluster.url, "select x from kept") == "8")
    }
}
