"""What the firmware stubs serve, as docs/firmware-stubs.md documents it:
the value a point has at the stub's k-th read, and each point's unit."""

# The stubs' documented sequences (docs/firmware-stubs.md), k = 0, 1, ...
def expected_value(point, k, start_in=0):
    return {
        "visitors_in": lambda: (start_in + 7 * k) % 65536,
        "visitors_out": lambda: (5 * k) % 65536,
        "temperature": lambda: (-150 + (37 * k) % 500) / 10,
        "humidity": lambda: (300 + (53 * k) % 600) / 10,
        "pressure": lambda: 950 + 0.25 * (k % 400),
        "illuminance": lambda: 65536 + (977 * k) % 100000,
    }[point]()


UNITS = {"visitors_in": "visitors", "visitors_out": "visitors", "temperature": "°C",
         "humidity": "%RH", "pressure": "hPa", "illuminance": "lx"}
