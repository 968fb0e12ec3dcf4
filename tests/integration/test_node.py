"""node-postgres through the gateway prints what it prints against PostgreSQL."""

import json
import subprocess

import pytest

from harness import HERE, clean_env, run

NODE_DIR = HERE / "clients" / "node"


@pytest.fixture(scope="module")
def node_modules():
    if not (NODE_DIR / "node_modules" / "pg" / "package.json").exists():
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=str(NODE_DIR),
            env=clean_env(), timeout=300)
    return NODE_DIR / "node_modules"


def check_js(params):
    cfg = {"host": params["host"], "port": params["port"], "user": params["user"],
           "password": params["password"], "database": params["dbname"]}
    p = subprocess.run(["node", "check.js", json.dumps(cfg)], cwd=str(NODE_DIR),
                       env=clean_env(TZ="UTC"), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"check.js failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout)


def test_node_pg_output_matches_direct(node_modules, gw, pg):
    direct = check_js(pg.params())
    via = check_js(gw.params())
    assert direct["types"]["rows"][0]["i8"] == "9007199254740993"
    assert direct["txError"]["code"] == "23505" and direct["txAborted"]["code"] == "25P02"
    assert direct["commitOfFailed"] == "ROLLBACK"
    assert [r["id"] for r in direct["table"]["rows"]] == [2, 3]
    assert direct["many"] == 3000 and direct["after"]["rows"] == [{"still": "usable"}]
    assert direct["notices"] and "hello from node 1" in direct["notices"][-1][2]
    assert via == direct
