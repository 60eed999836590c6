"""Bad input on every endpoint skiffd serves, table-driven: each request must get
dockerd's status code and {"message": ...} body, and leave nothing half-created (the
container and image lists, the data-root's containers/, images, blobs, layers and tmp
directories, the exec root, mounts, cgroups and shims are as before).

Docker is the judge: when dockerd (docker.io) is installed, a private one gets the same
requests and its answers are checked against the table too. dockerd here is 20.10 (API
1.41); where skiff follows a later dockerd (400 instead of 20.10's 500 for a malformed
body, lower-case "invalid filter"), or deliberately differs, the row records what 20.10
answers and why."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import cgroup_roots, mounts_under
from daemon import Skiffd

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (overlayfs, cgroups)")

DOCKERD = shutil.which("dockerd")
DOCKER = shutil.which("docker", path="/usr/local/bin:/usr/bin")
SAME = "same"               # dockerd 20.10 answers exactly what skiffd does
OLD_DECODER = "old-decoder"  # dockerd 20.10: 500 and Go's bare message (no "invalid JSON: ")
ID = re.compile(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b")


@dataclass
class Case:
    name: str
    method: str
    path: str  # may name {ambiguous}: a one-character prefix of two containers' ids
    body: str = None
    status: int = 400
    message: str = ""  # with ids written <id>
    docker: object = SAME  # SAME, OLD_DECODER, (status, message or None), or None: not asked
    why: str = ""
    headers: dict = None


def create(body, status=400, message="", **kw):
    return Case(kw.pop("name", body[:60]), "POST", kw.pop("path", "/containers/create"), body,
                status, message, **kw)


def bad_type(body, message):
    """A create body with a value of the wrong Go type."""
    return create(body, 400, "invalid JSON: " + message, docker=OLD_DECODER)


STREAM = "needs a JSON body"
JSON_500 = "dockerd 20.10 answers 500 for a client's malformed JSON; moby 25 and skiffd 400"
ATOI = "dockerd answers Go's strconv error with 500; skiffd 400 naming the parameter"
LOWER = "moby 23 spells its filter errors in lower case"
FILTERS = "moby 23's filters.FromJSON: 400 \"invalid filter\"; 20.10 gave Go's error, 500"
NOT_FOUND = "moby 24: 404 \"No such container\" for an unknown before/since"
AMBIGUOUS = "moby 24 (memdb's ErrAmbiguousPrefix): 400, in lower case"
GET_IMAGE = "moby 25 dropped the \"no such image: NAME:\" prefix"


CREATE_SYNTAX = [
    create("{bad", message="invalid JSON: invalid character 'b' looking for beginning of "
           "object key string", docker=OLD_DECODER),
    create('{"Image" "busybox"}', message="invalid JSON: invalid character '\"' after "
           "object key", docker=OLD_DECODER),
    create('{"Image":"busybox",}', message="invalid JSON: invalid character '}' looking "
           "for beginning of object key string", docker=OLD_DECODER),
    create('{"Image":"busybox","Cmd":[1,]}', message="invalid JSON: invalid character ']' "
           "looking for beginning of value", docker=OLD_DECODER),
    create('{"StopTimeout":-x}', message="invalid JSON: invalid character 'x' in numeric "
           "literal", docker=OLD_DECODER),
    create('{"StopTimeout":1.}', message="invalid JSON: invalid character '}' after "
           "decimal point in numeric literal", docker=OLD_DECODER),
    create('{"Tty":tru}', message="invalid JSON: invalid character '}' in literal true "
           "(expecting 'e')", docker=OLD_DECODER),
    create('{"Image":"\\q"}', message="invalid JSON: invalid character 'q' in string "
           "escape code", docker=OLD_DECODER),
    create('{"Image":"busybox"', message="invalid JSON: unexpected EOF", docker=OLD_DECODER),
    create("{'Image':1}", message="invalid JSON: invalid character '\\'' looking for "
           "beginning of object key string", docker=OLD_DECODER),
    create("", name="empty body", message="invalid JSON: got EOF while reading request body",
           docker=(500, "EOF"), why=JSON_500),
    create("[]", message="invalid JSON: json: cannot unmarshal array into Go value of type "
           "container.CreateRequest", docker=OLD_DECODER),
    create('"x"', message="invalid JSON: json: cannot unmarshal string into Go value of "
           "type container.CreateRequest", docker=OLD_DECODER),
    create("{}", message="config cannot be empty in order to create a container",
           docker=(400, "Config cannot be empty in order to create a container"), why=LOWER),
    create('{"HostConfig":{}}', message="config cannot be empty in order to create a "
           "container", docker=(400, "Config cannot be empty in order to create a "
                                "container"), why=LOWER),
    create('{"Image":"busybox","Cmd":["true"]} trailing', message="unexpected content after "
           "JSON", docker=None, why="moby 25 refuses content after the body; 20.10 ignored "
           "it and created the container"),
    create('{"Image":"busybox","Cmd":["true"]}', name="text/plain body",
           headers={"Content-Type": "text/plain"},
           message="unsupported Content-Type header (text/plain): must be 'application/json'",
           docker=(400, "Content-Type specified (text/plain) must be 'application/json'"),
           why="moby 23 rewords the Content-Type check"),
]

CREATE_TYPES = [
    bad_type('{"Image":"busybox","Cmd":5}', "json: cannot unmarshal number into Go struct "
             "field CreateRequest.Cmd of type string"),
    bad_type('{"Image":"busybox","Cmd":[1]}', "json: cannot unmarshal array into Go struct "
             "field CreateRequest.Cmd of type string"),
    bad_type('{"Image":"busybox","cmd":{}}', "json: cannot unmarshal object into Go struct "
             "field CreateRequest.Cmd of type string"),
    bad_type('{"Image":"busybox","Env":"x"}', "json: cannot unmarshal string into Go struct "
             "field CreateRequest.Env of type []string"),
    bad_type('{"Image":"busybox","Env":[1]}', "json: cannot unmarshal number into Go struct "
             "field CreateRequest.Env of type string"),
    bad_type('{"Image":5}', "json: cannot unmarshal number into Go struct field "
             "CreateRequest.Image of type string"),
    bad_type('{"Image":"busybox","Tty":"yes","Env":5}', "json: cannot unmarshal string into "
             "Go struct field CreateRequest.Tty of type bool"),
    bad_type('{"Image":"busybox","Labels":[]}', "json: cannot unmarshal array into Go struct "
             "field CreateRequest.Labels of type map[string]string"),
    bad_type('{"Image":"busybox","Labels":{"a":1}}', "json: cannot unmarshal number into Go "
             "struct field CreateRequest.Labels of type string"),
    bad_type('{"Image":"busybox","StopTimeout":"x"}', "json: cannot unmarshal string into Go "
             "struct field CreateRequest.StopTimeout of type int"),
    bad_type('{"Image":"busybox","StopTimeout":1.5}', "json: cannot unmarshal number 1.5 into "
             "Go struct field CreateRequest.StopTimeout of type int"),
    bad_type('{"Image":"busybox","ExposedPorts":{"80/tcp":"x"}}', "json: cannot unmarshal "
             "string into Go struct field CreateRequest.ExposedPorts of type struct {}"),
    bad_type('{"Image":"busybox","Healthcheck":{"Interval":"x"}}', "json: cannot unmarshal "
             "string into Go struct field HealthConfig.Healthcheck.Interval of type "
             "time.Duration"),
    bad_type('{"Image":"busybox","HostConfig":[]}', "json: cannot unmarshal array into Go "
             "struct field CreateRequest.HostConfig of type container.HostConfig"),
    bad_type('{"Image":"busybox","HostConfig":{"Memory":"big"}}', "json: cannot unmarshal "
             "string into Go struct field HostConfig.HostConfig.Memory of type int64"),
    bad_type('{"Image":"busybox","HostConfig":{"BlkioWeight":-1}}', "json: cannot unmarshal "
             "number -1 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16"),
    bad_type('{"Image":"busybox","HostConfig":{"RestartPolicy":"always"}}', "json: cannot "
             "unmarshal string into Go struct field HostConfig.HostConfig.RestartPolicy of "
             "type container.RestartPolicy"),
    bad_type('{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":5}}}', "json: cannot "
             "unmarshal number into Go struct field RestartPolicy.HostConfig.RestartPolicy."
             "Name of type string"),
    bad_type('{"Image":"busybox","HostConfig":{"Binds":"x"}}', "json: cannot unmarshal "
             "string into Go struct field HostConfig.HostConfig.Binds of type []string"),
    bad_type('{"Image":"busybox","HostConfig":{"LogConfig":{"Config":{"a":1}}}}', "json: "
             "cannot unmarshal number into Go struct field LogConfig.HostConfig.LogConfig."
             "Config of type string"),
    bad_type('{"Image":"busybox","HostConfig":{"Mounts":[5]}}', "json: cannot unmarshal "
             "number into Go struct field HostConfig.HostConfig.Mounts of type mount.Mount"),
    bad_type('{"Image":"busybox","HostConfig":{"Mounts":[{"Type":5}]}}', "json: cannot "
             "unmarshal number into Go struct field Mount.HostConfig.Mounts.Type of type "
             "mount.Type"),
    bad_type('{"Image":"busybox","HostConfig":{"Ulimits":[{"Soft":"x"}]}}', "json: cannot "
             "unmarshal string into Go struct field Ulimit.HostConfig.Ulimits.Soft of type "
             "int64"),
    bad_type('{"Image":"busybox","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":1}]}}}',
             "json: cannot unmarshal number into Go struct field PortBinding.HostConfig."
             "PortBindings.HostPort of type string"),
    bad_type('{"Image":"busybox","HostConfig":{"CapAdd":5}}', "json: cannot unmarshal "
             "number into Go struct field HostConfig.HostConfig.CapAdd of type string"),
    bad_type('{"Image":"busybox","HostConfig":{"Init":"x"}}', "json: cannot unmarshal "
             "string into Go struct field HostConfig.HostConfig.Init of type bool"),
    bad_type('{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":5}}', "json: cannot "
             "unmarshal number into Go struct field NetworkingConfig.NetworkingConfig."
             "EndpointsConfig of type map[string]*network.EndpointSettings"),
]


def host(hc, cmd='["true"]'):
    return '{"Image":"busybox","Cmd":%s,"HostConfig":%s}' % (cmd, hc)


CREATE_CHECKS = [
    create('{"Image":"busybox","Cmd":["x"],"WorkingDir":"rel"}', message="the working "
           "directory 'rel' is invalid, it needs to be an absolute path"),
    create('{"Image":"busybox","Cmd":["x"],"StopSignal":"NOPE"}', message="Invalid signal: "
           "NOPE"),
    create('{"Image":"busybox","Cmd":["x"],"StopSignal":"0"}', message="Invalid signal: 0"),
    create('{"Image":"busybox","Cmd":["x"],"Env":["A=1","=x"]}', message="invalid "
           "environment variable: =x"),
    create('{"Image":"busybox","Cmd":["x"],"Healthcheck":{"Interval":5}}', message="Interval "
           "in Healthcheck cannot be less than 1ms"),
    create('{"Image":"busybox","Cmd":["x"],"Healthcheck":{"Retries":-1}}', message="Retries "
           "in Healthcheck cannot be negative"),
    create(host('{"RestartPolicy":{"Name":"bogus"}}'), message="invalid restart policy "
           "'bogus'"),
    create(host('{"RestartPolicy":{"Name":"always","MaximumRetryCount":3}}'),
           message="maximum retry count cannot be used with restart policy 'always'"),
    create(host('{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":-1}}'),
           message="maximum retry count cannot be negative"),
    create(host('{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}'),
           message="can't create 'AutoRemove' container with restart policy"),
    create(host('{"Memory":100}'), message="Minimum memory limit allowed is 6MB"),
    create('{"Image":"nosuch","HostConfig":{"Memory":-5}}', message="Minimum memory limit "
           "allowed is 6MB"),
    create(host('{"Memory":10000000,"MemorySwap":5000000}'), message="Minimum memoryswap "
           "limit should be larger than memory limit, see usage"),
    create(host('{"MemorySwap":50000000}'), message="You should always set the Memory limit "
           "when using Memoryswap limit, see usage"),
    create(host('{"MemorySwappiness":500}'), message="Invalid value: 500, valid memory "
           "swappiness range is 0-100"),
    create(host('{"MemoryReservation":500}'), message="Minimum memory reservation allowed "
           "is 6MB"),
    create(host('{"NanoCpus":1000000,"CpuQuota":1000}'), message="Conflicting options: Nano "
           "CPUs and CPU Quota cannot both be set"),
    create(host('{"CpuQuota":500}'), message="CPU cfs quota can not be less than 1ms (i.e. "
           "1000)"),
    create(host('{"CpuPeriod":500}'), message="CPU cfs period can not be less than 1ms (i.e. "
           "1000) or larger than 1s (i.e. 1000000)"),
    create(host('{"CpusetCpus":"abc"}'), message="Invalid value abc for cpuset cpus: invalid "
           "format: abc"),
    create(host('{"CpusetCpus":"1-0"}'), message="Invalid value 1-0 for cpuset cpus: invalid "
           "format: 1-0"),
    create(host('{"CpusetCpus":"1000"}'), message="Requested CPUs are not available - "
           "requested 1000, available: <cpus>"),
    create(host('{"ShmSize":-1}'), message="SHM size can not be less than 0"),
    create(host('{"OomScoreAdj":5000}'), message="Invalid value 5000, range for oom score "
           "adj is [-1000, 1000]"),
    create(host('{"CgroupnsMode":"bogus"}'), message="invalid cgroup namespace mode: bogus"),
    create(host('{"NetworkMode":"container:"}'), message="Invalid network mode: invalid "
           "container format container:<name|id>"),
    create(host('{"Runtime":"bogus"}'), message="Unknown runtime specified bogus"),
    create(host('{"ExtraHosts":["bogus"]}'), message="bad format for add-host: \"bogus\""),
    create(host('{"Isolation":"bogus"}'), message="Invalid isolation: \"bogus\" - linux only "
           "supports 'default'", docker=(500, "Invalid isolation: \"bogus\" - linux only "
                                         "supports 'default'"),
           why="a client's bad value: skiffd says 400 where dockerd says 500"),
    create(host('{"LogConfig":{"Type":"bogus"}}'), message="error looking up logging plugin "
           "bogus: plugin \"bogus\" not found"),
    create(host('{"LogConfig":{"Type":"json-file","Config":{"bogus":"1"}}}'),
           message="unknown log opt 'bogus' for json-file log driver"),
    create(host('{"LogConfig":{"Type":"syslog"}}'), message="log driver 'syslog' is not "
           "supported by skiff (use json-file or none)", docker=None,
           why="skiff has json-file and none only; it refuses the others at create"),
    create('{"Image":"busybox"}', message="No command specified"),
    create('{"Image":"busybox","Entrypoint":[""]}', message="No command specified"),
    create('{"Image":"nosuch","Cmd":["x"]}', status=404, message="No such image: "
           "nosuch:latest"),
    create('{"Image":"UPPER","Cmd":["x"]}', message="invalid reference format: repository "
           "name (library/UPPER) must be lowercase", docker=(400, "invalid reference format: "
                                                            "repository name must be "
                                                            "lowercase"),
           why="distribution/reference 0.5 names the repository"),
    create('{"Image":"busybox","Cmd":["x"]}', path="/containers/create?name=a/b",
           message="Invalid container name (a/b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
    create('{"Image":"busybox","Cmd":["x"]}', path="/containers/create?name=-x",
           message="Invalid container name (-x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
    create('{"Image":"busybox","Cmd":["x"]}', path="/containers/create?name=bi-running",
           name="name in use", status=409,
           message="Conflict. The container name \"/bi-running\" is already in use by "
           "container \"<id>\". You have to remove (or rename) that container to be able to "
           "reuse that name."),
]

CONTAINERS = [
    Case("list limit", "GET", "/containers/json?limit=abc", None, 400,
         "invalid value for limit: \"abc\" is not an integer",
         docker=(500, "strconv.Atoi: parsing \"abc\": invalid syntax"), why=ATOI),
    Case("list filters not json", "GET", "/containers/json?filters=notjson", None, 400,
         "invalid filter", docker=(500, "invalid character 'o' in literal null (expecting "
                                   "'u')"), why=FILTERS),
    Case("list filters array", "GET", "/containers/json?filters=%5B%5D", None, 400,
         "invalid filter", docker=(500, "json: cannot unmarshal array into Go value of type "
                                   "map[string]map[string]bool"), why=FILTERS),
    Case("list filter value", "GET", '/containers/json?filters={"id":"x"}', None, 400,
         "invalid filter", docker=(500, "json: cannot unmarshal string into Go value of type "
                                   "map[string]bool"), why=FILTERS),
    Case("list unknown filter", "GET", '/containers/json?filters={"bogus":["x"]}', None, 400,
         "invalid filter 'bogus'", docker=(400, "Invalid filter 'bogus'"), why=LOWER),
    Case("list status filter", "GET", '/containers/json?filters={"status":["bogus"]}', None,
         400, "invalid filter 'status=bogus'", docker=(400, "Invalid filter 'status=bogus'"),
         why=LOWER),
    Case("list exited filter", "GET", '/containers/json?filters={"exited":["abc"]}', None, 400,
         "strconv.Atoi: parsing \"abc\": invalid syntax",
         docker=(500, "strconv.Atoi: parsing \"abc\": invalid syntax"), why=ATOI),
    Case("list health filter", "GET", '/containers/json?filters={"health":["x"]}', None, 400,
         "Unrecognised filter value for health: x"),
    Case("list is-task filter", "GET", '/containers/json?filters={"is-task":["x"]}', None, 400,
         "invalid filter 'is-task=[x]'", docker=(400, "Invalid filter 'is-task=[x]'"),
         why=LOWER),
    Case("list before unknown", "GET", '/containers/json?filters={"before":["nosuch"]}', None,
         404, "No such container: nosuch", docker=(500, "no such container nosuch"),
         why=NOT_FOUND),
    Case("list since unknown", "GET", '/containers/json?filters={"since":["nosuch"]}', None,
         404, "No such container: nosuch", docker=(500, "no such container nosuch"),
         why=NOT_FOUND),
    Case("inspect unknown", "GET", "/containers/nosuch/json", None, 404,
         "No such container: nosuch"),
    Case("inspect ambiguous", "GET", "/containers/{ambiguous}/json", None, 400,
         "multiple IDs found with provided prefix: {ambiguous}",
         docker=(500, "Multiple IDs found with provided prefix: {ambiguous}"),
         why=AMBIGUOUS),
    Case("start unknown", "POST", "/containers/nosuch/start", None, 404,
         "No such container: nosuch"),
    Case("start ambiguous", "POST", "/containers/{ambiguous}/start", None, 400,
         "multiple IDs found with provided prefix: {ambiguous}",
         docker=(500, "Multiple IDs found with provided prefix: {ambiguous}"),
         why=AMBIGUOUS),
    Case("start with a body", "POST", "/containers/bi-created/start", '{"HostConfig":{}}', 400,
         "starting container with non-empty request body was deprecated since API v1.22 and "
         "removed in v1.24"),
    Case("start what cannot run", "POST", "/containers/bi-bad/start", None, 400,
         "create container <id>: exec: \"nosuchcommand\": executable file not found in $PATH",
         docker=(400, None),
         why="the runtime's own words (runc's through containerd for dockerd)"),
    Case("stop unknown", "POST", "/containers/nosuch/stop", None, 404,
         "No such container: nosuch"),
    Case("stop t", "POST", "/containers/bi-running/stop?t=abc", None, 400,
         "invalid value for t: \"abc\" is not an integer",
         docker=(500, "strconv.Atoi: parsing \"abc\": invalid syntax"), why=ATOI),
    Case("stop signal", "POST", "/containers/bi-running/stop?signal=NOPE", None, 400,
         "Invalid signal: NOPE", docker=None,
         why="API 1.41 has no signal for stop: dockerd 20.10 would stop the container"),
    Case("restart unknown", "POST", "/containers/nosuch/restart", None, 404,
         "No such container: nosuch"),
    Case("restart t", "POST", "/containers/bi-running/restart?t=abc", None, 400,
         "invalid value for t: \"abc\" is not an integer",
         docker=(500, "strconv.Atoi: parsing \"abc\": invalid syntax"), why=ATOI),
    Case("kill unknown", "POST", "/containers/nosuch/kill", None, 404,
         "Cannot kill container: nosuch: No such container: nosuch"),
    Case("kill not running", "POST", "/containers/bi-created/kill", None, 409,
         "Cannot kill container: bi-created: Container <id> is not running"),
    Case("kill bad signal", "POST", "/containers/bi-running/kill?signal=NOPE", None, 400,
         "Invalid signal: NOPE"),
    Case("kill bad signal, unknown container", "POST", "/containers/nosuch/kill?signal=NOPE",
         None, 400, "Invalid signal: NOPE"),
    Case("kill signal number", "POST", "/containers/bi-running/kill?signal=999", None, 400,
         "The linux daemon does not support signal 999",
         docker=(500, "Cannot kill container: bi-running: The linux daemon does not support "
                 "signal 999"), why="moby 23 checks the signal first, as a bad parameter"),
    Case("pause unknown", "POST", "/containers/nosuch/pause", None, 404,
         "No such container: nosuch"),
    Case("pause not running", "POST", "/containers/bi-created/pause", None, 409,
         "Container <id> is not running"),
    Case("unpause not paused", "POST", "/containers/bi-running/unpause", None, 409,
         "Container <id> is not paused", docker=(500, "Container <id> is not paused"),
         why="a state conflict, 409 like pause's; dockerd has no error class for it"),
    Case("wait unknown", "POST", "/containers/nosuch/wait", None, 404,
         "No such container: nosuch"),
    Case("wait condition", "POST", "/containers/bi-exited/wait?condition=bogus", None, 400,
         "invalid condition: \"bogus\"", docker=None,
         why="moby 23 refuses an unknown condition; 20.10 waited for not-running"),
    Case("rename unknown", "POST", "/containers/nosuch/rename?name=x1", None, 404,
         "No such container: nosuch"),
    Case("rename no name", "POST", "/containers/nosuch/rename", None, 400,
         "Neither old nor new names may be empty"),
    Case("rename same name", "POST", "/containers/bi-created/rename?name=bi-created", None,
         400, "Renaming a container with the same name as its current name"),
    Case("rename invalid", "POST", "/containers/bi-created/rename?name=a/b", None, 400,
         "Error when allocating new name: Invalid container name (/a/b), only "
         "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
    Case("rename taken", "POST", "/containers/bi-created/rename?name=bi-running", None, 409,
         "Error when allocating new name: Conflict. The container name \"/bi-running\" is "
         "already in use by container \"<id>\". You have to remove (or rename) that container "
         "to be able to reuse that name."),
    Case("resize unknown", "POST", "/containers/nosuch/resize?h=1&w=1", None, 404,
         "No such container: nosuch"),
    Case("resize not running", "POST", "/containers/bi-created/resize?h=1&w=1", None, 409,
         "Container <id> is not running"),
    Case("resize h", "POST", "/containers/bi-running/resize?h=abc&w=1", None, 400,
         "strconv.Atoi: parsing \"abc\": invalid syntax"),
    Case("resize without size", "POST", "/containers/bi-running/resize", None, 400,
         "strconv.Atoi: parsing \"\": invalid syntax"),
    Case("attach unknown", "POST", "/containers/nosuch/attach?stream=1&stdout=1", None, 404,
         "No such container: nosuch", docker=(404, None),
         why="dockerd writes this error as plain text on the hijacked connection"),
    Case("logs unknown", "GET", "/containers/nosuch/logs?stdout=1", None, 404,
         "No such container: nosuch"),
    Case("logs no stream", "GET", "/containers/nosuch/logs", None, 400,
         "Bad parameters: you must choose at least one stream"),
    Case("logs since", "GET", "/containers/bi-exited/logs?stdout=1&since=garbage", None, 400,
         "invalid value for since: \"garbage\" is not a time stamp",
         docker=(500, "strconv.ParseInt: parsing \"garbage\": invalid syntax"), why=ATOI),
    Case("logs until", "GET", "/containers/bi-exited/logs?stdout=1&until=garbage", None, 400,
         "invalid value for until: \"garbage\" is not a time stamp",
         docker=(500, "strconv.ParseInt: parsing \"garbage\": invalid syntax"), why=ATOI),
    Case("delete unknown", "DELETE", "/containers/nosuch", None, 404,
         "No such container: nosuch"),
    Case("delete running", "DELETE", "/containers/bi-running", None, 409,
         "cannot remove container \"/bi-running\": container is running: stop the container "
         "before removing or force remove",
         docker=(409, "You cannot remove a running container <id>. Stop the container before "
                 "attempting removal or force remove"), why="moby 25 rewords it"),
    Case("prune filters not json", "POST", "/containers/prune?filters=notjson", None, 400,
         "invalid filter", docker=(400, "invalid character 'o' in literal null (expecting "
                                   "'u')"), why=FILTERS),
    Case("prune unknown filter", "POST", '/containers/prune?filters={"bogus":["x"]}', None,
         400, "invalid filter 'bogus'", docker=(400, "Invalid filter 'bogus'"), why=LOWER),
    Case("prune until", "POST", '/containers/prune?filters={"until":["garbage"]}', None, 400,
         "failed to parse value as time or duration: \"garbage\"",
         docker=(500, "failed to parse value as time or duration: \"garbage\""),
         why="a client's bad value: skiffd says 400 where dockerd says 500"),
    Case("prune two untils", "POST", '/containers/prune?filters={"until":["1h","2h"]}', None,
         400, "more than one until filter specified",
         docker=(500, "more than one until filter specified"),
         why="a client's bad value: skiffd says 400 where dockerd says 500"),
]

ARCHIVE = [
    Case("archive unknown", "GET", "/containers/nosuch/archive?path=/", None, 404,
         "No such container: nosuch"),
    Case("archive without path", "GET", "/containers/bi-created/archive", None, 400,
         "bad parameter: pathcannot be empty"),
    Case("archive missing file", "GET", "/containers/bi-created/archive?path=/nonexistent",
         None, 404, "Could not find the file /nonexistent in container bi-created"),
    Case("extract garbage", "PUT", "/containers/bi-created/archive?path=/tmp", "garbage", 400,
         "invalid tar: Unrecognized archive format",
         docker=(500, "Error processing tar file(exit status 1): unexpected EOF"),
         why="a client's bad archive: skiffd says 400 where dockerd says 500",
         headers={"Content-Type": "application/x-tar"}),
    Case("export unknown", "GET", "/containers/nosuch/export", None, 404,
         "No such container: nosuch"),
    Case("changes unknown", "GET", "/containers/nosuch/changes", None, 404,
         "No such container: nosuch"),
    Case("commit unknown", "POST", "/commit?container=nosuch", None, 404,
         "No such container: nosuch"),
    Case("commit malformed config", "POST", "/commit?container=bi-created", "{bad", 400,
         "invalid JSON: invalid character 'b' looking for beginning of object key string",
         docker=OLD_DECODER),
    Case("commit mistyped config", "POST", "/commit?container=bi-created", '{"Cmd":5}', 400,
         "invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Cmd "
         "of type string", docker=OLD_DECODER),
    Case("commit bad change", "POST", "/commit?container=bi-created&changes=BOGUS", None, 400,
         "bogus is not a valid change command"),
]

IMAGES = [
    Case("import garbage", "POST", "/images/create?fromSrc=-&repo=bi-imp", "garbage", 400,
         "invalid layer tar: Unrecognized archive format",
         docker=(500, "Error processing tar file(exit status 1): unexpected EOF"),
         why="a client's bad archive: skiffd says 400 where dockerd says 500",
         headers={"Content-Type": "application/x-tar"}),
    Case("import bad repo", "POST", "/images/create?fromSrc=-&repo=UPPER", "garbage", 400,
         "invalid reference format: repository name (library/UPPER) must be lowercase",
         docker=(400, "invalid reference format: repository name must be lowercase"),
         why="distribution/reference 0.5 names the repository",
         headers={"Content-Type": "application/x-tar"}),
    Case("import bad change", "POST", "/images/create?fromSrc=-&changes=BOGUS%20x", "garbage",
         400, "bogus is not a valid change command",
         headers={"Content-Type": "application/x-tar"}),
    Case("import from a URL", "POST", "/images/create?fromSrc=http://127.0.0.1:1/x", None, 400,
         "importing from a URL (http://127.0.0.1:1/x) is not supported: send the archive as "
         "the request body with fromSrc=-",
         docker=(500, "Get \"http://127.0.0.1:1/x\": dial tcp 127.0.0.1:1: connect: "
                 "connection refused"), why="skiffd does not fetch URLs"),
    Case("list filters not json", "GET", "/images/json?filters=notjson", None, 400,
         "invalid filter", docker=(500, "invalid character 'o' in literal null (expecting "
                                   "'u')"), why=FILTERS),
    Case("list unknown filter", "GET", '/images/json?filters={"bogus":["x"]}', None, 400,
         "invalid filter 'bogus'", docker=(400, "Invalid filter 'bogus'"), why=LOWER),
    Case("list dangling", "GET", '/images/json?filters={"dangling":["maybe"]}', None, 400,
         "invalid filter 'dangling=[maybe]'", docker=(400, "Invalid filter 'dangling=[maybe]'"),
         why=LOWER),
    Case("list before unknown", "GET", '/images/json?filters={"before":["nosuch"]}', None, 404,
         "No such image: nosuch:latest"),
    Case("inspect unknown", "GET", "/images/nosuch/json", None, 404,
         "No such image: nosuch:latest",
         docker=(404, "no such image: nosuch: No such image: nosuch:latest"), why=GET_IMAGE),
    Case("inspect bad name", "GET", "/images/UPPER/json", None, 400,
         "invalid reference format: repository name (library/UPPER) must be lowercase",
         docker=(400, "no such image: UPPER: invalid reference format: repository name must "
                 "be lowercase"), why=GET_IMAGE),
    Case("history unknown", "GET", "/images/nosuch/history", None, 404,
         "No such image: nosuch:latest"),
    Case("tag unknown", "POST", "/images/nosuch/tag?repo=x", None, 404,
         "No such image: nosuch:latest"),
    Case("tag bad repo", "POST", "/images/busybox/tag?repo=UPPER", None, 400,
         "invalid reference format: repository name (library/UPPER) must be lowercase",
         docker=(500, "invalid reference format: repository name must be lowercase"),
         why="moby 23: 400; distribution/reference 0.5 names the repository"),
    Case("tag bad tag", "POST", "/images/busybox/tag?repo=x&tag=bad:tag", None, 400,
         "invalid tag format", docker=(500, "invalid tag format"),
         why="moby 23 answers a bad tag with 400"),
    Case("tag digest algorithm", "POST", "/images/busybox/tag?repo=sha256&tag=abc", None, 400,
         "refusing to create an ambiguous tag using digest algorithm as name"),
    Case("tag id as repo", "POST", "/images/busybox/tag?repo=" + "a" * 64, None, 400,
         "invalid repository name (" + "a" * 64 + "), cannot specify 64-byte hexadecimal "
         "strings", docker=(500, "invalid repository name (" + "a" * 64 + "), cannot specify "
                            "64-byte hexadecimal strings"),
         why="moby 23 answers a bad name with 400"),
    Case("delete unknown", "DELETE", "/images/nosuch", None, 404, "No such image: nosuch:latest"),
    Case("delete bad name", "DELETE", "/images/UPPER", None, 400,
         "invalid reference format: repository name (library/UPPER) must be lowercase",
         docker=(400, "invalid reference format: repository name must be lowercase"),
         why="distribution/reference 0.5 names the repository"),
    Case("delete a used reference", "DELETE", "/images/busybox", None, 409,
         "conflict: unable to remove repository reference \"busybox\" (must force) - "
         "container <id> is using its referenced image <id>"),
    Case("save unknown", "GET", "/images/get?names=nosuch", None, 404,
         "No such image: nosuch:latest", docker=(404, "No such image: nosuch"),
         why="skiffd names the normalized reference"),
    Case("save one unknown", "GET", "/images/nosuch/get", None, 404,
         "No such image: nosuch:latest", docker=(404, "No such image: nosuch"),
         why="skiffd names the normalized reference"),
    Case("load garbage", "POST", "/images/load", "garbage", 400,
         "invalid archive: Unrecognized archive format", docker=(200, None),
         why="dockerd answers 200 and reports the error in the progress stream",
         headers={"Content-Type": "application/x-tar"}),
    Case("prune unknown filter", "POST", '/images/prune?filters={"bogus":["x"]}', None, 400,
         "invalid filter 'bogus'", docker=(400, "Invalid filter 'bogus'"), why=LOWER),
    Case("prune dangling", "POST", '/images/prune?filters={"dangling":["maybe"]}', None, 400,
         "invalid filter 'dangling=[maybe]'", docker=(400, "Invalid filter 'dangling=[maybe]'"),
         why=LOWER),
    Case("prune until", "POST", '/images/prune?filters={"until":["garbage"]}', None, 400,
         "failed to parse value as time or duration: \"garbage\"",
         docker=(500, "failed to parse value as time or duration: \"garbage\""),
         why="a client's bad value: skiffd says 400 where dockerd says 500"),
]

SYSTEM = [
    Case("unknown path", "GET", "/no/such/path", None, 404, "page not found"),
    Case("version, wrong method", "POST", "/version", None, 404, "page not found"),
    Case("ping, wrong method", "DELETE", "/_ping", None, 404, "page not found"),
    Case("list, wrong method", "PUT", "/containers/json", None, 404, "page not found"),
    Case("create, wrong method", "GET", "/containers/create", None, 404, "page not found"),
    Case("info, wrong method", "DELETE", "/info", None, 404, "page not found"),
    Case("df, wrong method", "POST", "/system/df", None, 404, "page not found"),
    Case("API version too old", "GET", "/v1/version", None, 400,
         "client version 1 is too old. Minimum supported API version is 1.24, please upgrade "
         "your client to a newer version", docker=(400, None),
         why="dockerd 20.10's minimum is 1.12, and this answer is plain text"),
    Case("API version too new", "GET", "/v1.99/version", None, 400,
         "client version 1.99 is too new. Maximum supported API version is 1.47",
         docker=(400, "client version 1.99 is too new. Maximum supported API version is 1.41"),
         why="dockerd 20.10 serves API 1.41"),
    Case("events since", "GET", "/events?since=garbage&until=1", None, 400,
         "invalid timestamp: since=garbage until=1",
         docker=(500, "strconv.ParseInt: parsing \"garbage\": invalid syntax"), why=ATOI),
    Case("network prune filter", "POST", '/networks/prune?filters={"bogus":["x"]}', None,
         400, "invalid filter 'bogus'", docker=(400, "Invalid filter 'bogus'"), why=LOWER),
    Case("volume prune filter", "POST", '/volumes/prune?filters={"bogus":["x"]}', None,
         400, "invalid filter 'bogus'", docker=(400, "Invalid filter 'bogus'"), why=LOWER),
    Case("build prune filters", "POST", "/build/prune?filters=notjson", None, 400,
         "invalid filter", docker=None, why="dockerd 20.10's build prune needs BuildKit"),
    Case("events filters", "GET", "/events?until=1&filters=notjson", None, 400,
         "invalid filter", docker=(500, "invalid character 'o' in literal null (expecting "
                                   "'u')"), why=FILTERS),
    Case("events filters array", "GET", "/events?until=1&filters=%5B%5D", None, 400,
         "invalid filter", docker=(500, "json: cannot unmarshal array into Go value of type "
                                   "map[string]map[string]bool"), why=FILTERS),
]

CASES = CREATE_SYNTAX + CREATE_TYPES + CREATE_CHECKS + CONTAINERS + ARCHIVE + IMAGES + SYSTEM


# ------------------------------------------------------------------ talking to daemons

class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(60)
        self.sock.connect(self.unix_path)


def request(sock, method, path, body=None, headers=None):
    """(status, content type, body text) of one request."""
    conn = UnixHTTP(str(sock))
    if headers is None:
        headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body.encode() if isinstance(body, str) else body,
                 headers=headers)
    resp = conn.getresponse()
    data = resp.read(65536).decode(errors="replace")
    conn.close()
    return resp.status, resp.getheader("Content-Type", ""), data


def message_of(text):
    try:
        return json.loads(text)["message"]
    except (ValueError, KeyError, TypeError):
        return text.strip()


def normalize(message):
    return ID.sub("<id>", message)


class Peer:
    """What the table needs of a daemon: its socket and the docker CLI on it."""

    def __init__(self, sock, top):
        self.sock = Path(sock)
        self.top = Path(top)
        self.ambiguous = None

    def docker(self, *args, check=True):
        env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                   DOCKER_CONFIG=str(self.top / "docker-config"))
        r = subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True,
                           timeout=120)
        assert not check or r.returncode == 0, (args, r.stderr)
        return r.stdout

    def stock(self, busybox_tar):
        """busybox:latest, a created, a running and an exited container, and containers
        enough for two ids to share their first character."""
        self.docker("import", str(busybox_tar), "busybox:latest")
        self.docker("create", "--name", "bi-created", "--network", "none", "busybox",
                    "sleep", "1000")
        self.docker("run", "-d", "--name", "bi-running", "--network", "none", "busybox",
                    "sleep", "1000")
        self.docker("run", "--name", "bi-exited", "--network", "none", "busybox", "true")
        self.docker("create", "--name", "bi-bad", "--network", "none", "busybox",
                    "nosuchcommand")
        seen = {}
        for c in json.loads(request(self.sock, "GET", "/containers/json?all=1")[2]):
            seen.setdefault(c["Id"][0], []).append(c["Id"])
        for n in range(17):
            first = [k for k, v in seen.items() if len(v) > 1]
            if first:
                self.ambiguous = first[0]
                return
            cid = self.docker("create", "--name", f"bi-p{n}", "--network", "none", "busybox",
                              "true").strip()
            seen.setdefault(cid[0], []).append(cid)
        raise AssertionError("no two container ids share a first character")

    def ask(self, case):
        path = case.path.replace("{ambiguous}", self.ambiguous or "")
        status, ctype, text = request(self.sock, case.method, path, case.body, case.headers)
        return status, ctype, normalize(message_of(text))

    def expected(self, text):
        return text.replace("{ambiguous}", self.ambiguous or "")

    def remove_all(self):
        out = request(self.sock, "GET", "/containers/json?all=1")[2]
        for c in json.loads(out):
            request(self.sock, "DELETE", f"/containers/{c['Id']}?force=1")


@pytest.fixture(scope="module")
def skiff(busybox_tar):
    d = Skiffd().start()
    peer = Peer(d.sock, d.top)
    peer.daemon = d
    try:
        peer.stock(busybox_tar)
        yield peer
    finally:
        peer.remove_all()
        d.cleanup()
        for mnt in mounts_under(str(d.top)):
            subprocess.run(["umount", "-l", mnt], capture_output=True)


@pytest.fixture(scope="module")
def dockerd(busybox_tar):
    if DOCKERD is None or DOCKER is None:
        pytest.skip("dockerd or the docker CLI is not installed: nothing to compare with")
    top = Path(tempfile.mkdtemp(prefix="bidk", dir="/tmp"))
    sock = top / "docker.sock"
    log = open(top / "dockerd.log", "w")
    proc = subprocess.Popen(
        [DOCKERD, "--data-root", f"{top}/docker", "--exec-root", f"{top}/exec", "-H",
         f"unix://{sock}", "--pidfile", f"{top}/docker.pid", "--bridge", "none",
         "--iptables=false"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    peer = Peer(sock, top)
    try:
        deadline = time.monotonic() + 60
        while not (sock.exists() and request_ok(sock)):
            assert proc.poll() is None and time.monotonic() < deadline, "dockerd did not start"
            time.sleep(0.1)
        peer.stock(busybox_tar)
        yield peer
    finally:
        if sock.exists() and proc.poll() is None:
            peer.remove_all()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for mnt in mounts_under(str(top)):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


def request_ok(sock):
    try:
        return request(sock, "GET", "/_ping")[0] == 200
    except OSError:
        return False


# ------------------------------------------------------------------ what must not change

def listing(root):
    return sorted(os.listdir(root)) if root.exists() else []


def skiff_cgroups(ids):
    """skiff's cgroups (/skiff/<id> on each hierarchy) of these containers."""
    found = []
    for root in cgroup_roots():
        found += [f"{root}/skiff/{i}" for i in listing(Path(root) / "skiff") if i in ids]
    return sorted(found)


def snapshot(peer):
    """Everything a half-done request could leave behind."""
    d = peer.daemon
    data, run = d.data, d.exec_root
    containers = json.loads(request(peer.sock, "GET", "/containers/json?all=1")[2])
    images = json.loads(request(peer.sock, "GET", "/images/json?all=1")[2])
    ids = [c["Id"] for c in containers]
    shims = subprocess.run(["pgrep", "-f", f"skiff-shim {run}/"], capture_output=True,
                           text=True).stdout.split()
    return {
        "containers": sorted((c["Id"], c["Names"][0], c["State"]) for c in containers),
        "images": sorted((i["Id"], tuple(sorted(i["RepoTags"] or []))) for i in images),
        "container dirs": listing(data / "containers"),
        "images dir": listing(data / "images"),
        "blobs": listing(data / "blobs" / "sha256"),
        "layers": listing(data / "layers"),
        "tmp": listing(data / "tmp"),
        "repositories": (data / "repositories.json").read_text(),
        "exec root": listing(run / "containers") + listing(run / "runtime"),
        "mounts": sorted(mounts_under(str(d.top))),
        "cgroups": skiff_cgroups(set(ids) | set(listing(data / "containers"))),
        "shims": sorted(shims),
    }


# ------------------------------------------------------------------ the tests

def test_every_case_has_a_reason_when_dockerd_differs():
    for case in CASES:
        assert case.docker in (SAME, OLD_DECODER) or case.why, case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_skiffd_answers_like_dockerd_and_changes_nothing(skiff, case):
    before = snapshot(skiff)
    status, ctype, message = skiff.ask(case)
    expected = skiff.expected(case.message).replace("<cpus>", available_cpus())
    assert (status, message) == (case.status, normalize(expected))
    assert ctype == "application/json"
    after = snapshot(skiff)
    for key in before:
        assert after[key] == before[key], f"{key} changed"


@pytest.mark.parametrize("case", [c for c in CASES if c.docker is not None],
                         ids=[c.name for c in CASES if c.docker is not None])
def test_dockerd_answers_what_the_table_says(dockerd, case):
    status, _, message = dockerd.ask(case)
    want_message = case.message
    if case.docker == SAME:
        want = case.status
    elif case.docker == OLD_DECODER:
        want = 500
        want_message = (case.message.removeprefix("invalid JSON: ")
                        .replace("container.CreateRequest", "runconfig.ContainerConfigWrapper")
                        .replace("CreateRequest.", "ContainerConfigWrapper."))
    else:
        want, want_message = case.docker
    want_message = dockerd.expected(want_message or "").replace("<cpus>", available_cpus())
    assert status == want
    if want_message:
        assert message == normalize(want_message)


def available_cpus():
    for path in ("/sys/fs/cgroup/cpuset/cpuset.cpus", "/sys/fs/cgroup/cpuset.cpus.effective",
                 "/sys/devices/system/cpu/online"):
        try:
            return Path(path).read_text().strip()
        except OSError:
            continue
    return "0"


def test_a_body_over_16_mib_is_refused_and_creates_nothing(skiff, tmp_path):
    """skiffd's limit (dockerd has none): 413 before the body is read."""
    body = tmp_path / "big.json"
    body.write_text('{"Image":"busybox","Cmd":["true"],"Labels":{"x":"' + "y" * (17 << 20)
                    + '"}}')
    before = snapshot(skiff)
    status, answer = skiff.daemon.get_json("/containers/create", "-X", "POST", "-H",
                                           "Content-Type: application/json",
                                           "--data-binary", f"@{body}")
    assert status == 413 and "too large" in answer["message"]
    assert snapshot(skiff) == before


def test_a_good_create_after_the_bad_ones_works(skiff):
    """The bad requests did not leave the daemon unable to create (a name half-taken, a
    lock held)."""
    status, _, text = request(skiff.sock, "POST", "/containers/create?name=bi-after",
                              '{"Image":"busybox","Cmd":["true"]}')
    assert status == 201, text
    assert request(skiff.sock, "DELETE", "/containers/bi-after")[0] == 204
