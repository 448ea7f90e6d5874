-- Subscriber DB for the siplat proxies' auth_db (digest auth), SQLite.
-- Created by `cargo xtask testbed up` (sqlite3 FILE < subscribers.sql) and in
-- Kubernetes by the proxy pod's init container. Schema as Kamailio 5.6
-- ships it (/usr/share/kamailio/db_sqlite/); plain-text passwords
-- (calculate_ha1) are fine for a lab.
CREATE TABLE version (
    id INTEGER PRIMARY KEY NOT NULL,
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_table_name_idx UNIQUE (table_name)
);
INSERT INTO version (table_name, table_version) VALUES ('version', '1');

CREATE TABLE subscriber (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT subscriber_account_idx UNIQUE (username, domain)
);
CREATE INDEX subscriber_username_idx ON subscriber (username);
INSERT INTO version (table_name, table_version) VALUES ('subscriber', '7');

-- The SIPp callers and callees (manifests/testbed/config/sipp/).
INSERT INTO subscriber (username, domain, password) VALUES ('caller', 'siplat.test', 'siplat-secret');
INSERT INTO subscriber (username, domain, password) VALUES ('callee', 'siplat.test', 'siplat-secret');
