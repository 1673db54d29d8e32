"""Request latency as the loopback interface saw it, from a tcpdump capture of an HTTP/1.1 port.

Per connection (the client's port), the time from a request's first data packet (payload starting "POST") to the first
data packet of its response (payload starting "HTTP"), so neither the client's nor the server's scheduling after the
packet is counted. wrk does not pipeline, so requests and responses alternate on each connection.
Usage: python3 pcap_latency.py CAPTURE.pcap SERVER_PORT
"""
import struct
import sys


def latencies(path, port):
    with open(path, "rb") as capture:
        data = capture.read()
    magic, = struct.unpack("<I", data[:4])
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit(f"{path}: not a little-endian pcap file")
    scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
    link, = struct.unpack("<I", data[20:24])
    link_header = {1: 14, 113: 16}.get(link)  # Ethernet (lo), Linux cooked capture (-i any)
    if link_header is None:
        sys.exit(f"{path}: link type {link} not handled")
    offset, sent, result = 24, {}, []
    while offset + 16 <= len(data):
        seconds, fraction, captured, _ = struct.unpack("<IIII", data[offset:offset + 16])
        packet = data[offset + 16:offset + 16 + captured]
        offset += 16 + captured
        ip = packet[link_header:]
        tcp = ip[(ip[0] & 0x0F) * 4:]
        source, destination = struct.unpack(">HH", tcp[:4])
        payload = tcp[(tcp[12] >> 4) * 4:]
        at = seconds + fraction * scale
        if destination == port and payload.startswith(b"POST"):
            sent[source] = at
        elif source == port and payload.startswith(b"HTTP") and destination in sent:
            result.append((at - sent.pop(destination)) * 1000)
    return sorted(result)


def main():
    result = latencies(sys.argv[1], int(sys.argv[2]))
    if not result:
        sys.exit("no request/response pairs found")
    quantile = lambda q: result[min(len(result) - 1, int(q * len(result)))]
    print(f"{len(result)} requests: P50 {quantile(0.5):.2f} ms, P75 {quantile(0.75):.2f}, P90 {quantile(0.9):.2f}, "
          f"P99 {quantile(0.99):.2f}, max {result[-1]:.2f}")


if __name__ == "__main__":
    main()
