//! The PostgreSQL test helpers against the real servers of tests/env/postgres-up: a service of
//! planrun-test/postgres:15 on the swarm and a database on the loopback server, a row written and
//! read in each, both gone afterwards.

mod support;

use std::process::Command;

use support::docker;
use support::postgres::{LoopbackDatabase, PSQL, PostgresService, loopback_url};

#[test]
fn a_service_and_a_loopback_database_store_a_row_and_are_removed() {
    let (service, secret) = {
        let pg = PostgresService::create("pg");
        assert_eq!(pg.exec_psql("select 1"), "1");
        pg.exec_psql("create table t (id int primary key, v text)");
        pg.exec_psql("insert into t values (1, 'in the service')");
        assert_eq!(pg.exec_psql("select v from t where id = 1"), "in the service");
        // The secret's password is the superuser's, over TCP with scram.
        let url = pg.url("postgres").replace(&pg.name, "127.0.0.1");
        let container = pg.container();
        let over_tcp = docker(&["exec", &container, "psql", "-X", "-A", "-t", &url, "-c", "select current_user"]);
        assert_eq!(over_tcp, "postgres");

        let db = LoopbackDatabase::create("pgenv");
        db.psql("create table t (id int primary key, v text)");
        db.psql("insert into t values (1, 'on the loopback server')");
        // The URL alone is enough to connect.
        let out = Command::new(PSQL)
            .args(["-X", "-A", "-t", &loopback_url(&db.name), "-c", "select v from t where id = 1"])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "psql with the URL: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "on the loopback server");
        let name = db.name.clone();
        drop(db);
        let left = support::postgres::loopback_psql(
            "postgres",
            &format!("select count(*) from pg_database where datname = '{name}'"),
        );
        assert_eq!(left, "0", "database {name} dropped");
        (pg.name.clone(), pg.secret.clone())
    };
    // Dropped: service and secret are gone.
    let services = docker(&["service", "ls", "--format", "{{.Name}}"]);
    assert!(!services.lines().any(|l| l == service), "{service} removed");
    let secrets = docker(&["secret", "ls", "--format", "{{.Name}}"]);
    assert!(!secrets.lines().any(|l| l == secret), "{secret} removed");
}
