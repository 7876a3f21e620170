"""INI files for the gateway under test, in one place: the sections tests
put together (head, buses, devices, the stubs' points), the demo's two
devices, and the benchmark's load."""


def head(broker_port, store, gateway="test-gw", gateway_extra="", mqtt_extra="",
         store_extra=""):
    """[gateway], [mqtt] and [store]: the test's broker on 127.0.0.1, quick
    reconnects, a commit every 100 ms."""
    return (f"[gateway]\nid = {gateway}\n{gateway_extra}"
            f"[mqtt]\nuri = tcp://127.0.0.1:{broker_port}\nreconnect_min = 200ms\n"
            f"reconnect_max = 1s\n{mqtt_extra}"
            f"[store]\npath = {store}\ncommit_interval = 100ms\n{store_extra}")


def tcp_bus(name, port, kind="tcp"):
    """A bus reached over TCP on 127.0.0.1: Modbus TCP, or (kind =
    "rtu-over-tcp") a converter in transparent mode."""
    return f"[bus {name}]\ntype = {kind}\nhost = 127.0.0.1\nport = {port}\n"


def rtu_bus(name, device, baud=19200, parity="even", extra=""):
    return f"[bus {name}]\ntype = rtu\ndevice = {device}\nbaud = {baud}\nparity = {parity}\n{extra}"


def device(name, bus, unit_id=1, interval="100ms", extra=""):
    return f"[device {name}]\nbus = {bus}\nunit_id = {unit_id}\ninterval = {interval}\n{extra}"


def counter_point(device_name, name, address, extra=""):
    """A 16-bit holding-register counter, as the visitor counter stub serves."""
    return (f"[point {device_name}/{name}]\nfunction = holding_register\naddress = {address}\n"
            f"type = uint16\nkind = counter\nunit = visitors\n{extra}")


def env_sensor_points(device_name):
    """The environmental sensor stub's four input registers
    (docs/firmware-stubs.md)."""
    return f"""[point {device_name}/temperature]
function = input_register
address = 0
type = int16
scale = 0.1
unit = °C
[point {device_name}/humidity]
function = input_register
address = 1
type = uint16
scale = 0.1
unit = %RH
[point {device_name}/pressure]
function = input_register
address = 2
type = float32
unit = hPa
[point {device_name}/illuminance]
function = input_register
address = 4
type = uint32
word_order = CDAB
unit = lx
"""


def demo_ini(broker_port, counter_port, env_tty, store, interval_ms=200, extra="", uris=None,
             store_extra="", mqtt_extra=""):
    uris = uris or f"tcp://127.0.0.1:{broker_port}"
    return f"""[gateway]
id = test-gw

[mqtt]
uri = {uris}
reconnect_min = 200ms
reconnect_max = 1s
keepalive = 5s
{mqtt_extra}
[store]
path = {store}
commit_interval = 100ms
{store_extra}
[bus counter]
type = tcp
host = 127.0.0.1
port = {counter_port}

[bus rs485]
type = rtu
device = {env_tty}
baud = 19200
parity = even

[device trail_north]
bus = counter
unit_id = 1
interval = {interval_ms}ms
response_timeout = 500ms

[point trail_north/visitors_in]
function = holding_register
address = 0
type = uint16
unit = visitors

[point trail_north/visitors_out]
function = holding_register
address = 1
type = uint16
unit = visitors

[device weather]
bus = rs485
unit_id = 3
interval = {interval_ms}ms
response_timeout = 500ms

{env_sensor_points("weather")}{extra}"""


def many_points_ini(gateway_id, broker_port, stub_ports, store, devices, points, interval="10ms",
                    extra="", status_file=None):
    """devices x points holding registers, every interval, one TCP bus per
    device, spread over the given stub ports: the benchmark's load. With
    status_file, health goes there every second (read it with status())."""
    status = f"status_file = {status_file}\nhealth_interval = 1s\n" if status_file else ""
    parts = [f"""[gateway]
id = {gateway_id}
ingest_capacity = 262144
{status}[mqtt]
uri = tcp://127.0.0.1:{broker_port}
max_inflight = 1024
reconnect_min = 200ms
reconnect_max = 1s
[store]
path = {store}
max_readings = 10000000
{extra}"""]
    for d in range(devices):
        parts.append(f"[bus b{d}]\ntype = tcp\nhost = 127.0.0.1\n"
                     f"port = {stub_ports[d % len(stub_ports)]}\n"
                     f"[device d{d}]\nbus = b{d}\nunit_id = 1\ninterval = {interval}\n"
                     f"response_timeout = 500ms\nbackoff_max = 1s\n")
        for p in range(points):
            parts.append(f"[point d{d}/p{p}]\nfunction = holding_register\naddress = {p}\n"
                         f"type = uint16\nunit = count\n")
    return "".join(parts)
