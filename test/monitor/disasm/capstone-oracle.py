#!/usr/bin/env python3
"""Disassembles byte strings with the host's libcapstone.so.4 (the engine QEMU 7.2's monitor
uses for x/i), AT&T syntax with SKIPDATA as QEMU sets it up (disas/capstone.c).
Input (stdin): lines "MODE ADDR HEX" (MODE 16|32|64, ADDR hex). Output: one JSON line per input,
{"mode","addr","bytes","size","mnemonic","op_str"} for the first instruction."""
import ctypes, json, sys

cs = ctypes.CDLL('libcapstone.so.4')

class CsInsn(ctypes.Structure):
    _fields_ = [('id', ctypes.c_uint), ('address', ctypes.c_uint64), ('size', ctypes.c_uint16),
                ('bytes', ctypes.c_uint8 * 16), ('mnemonic', ctypes.c_char * 32),
                ('op_str', ctypes.c_char * 160), ('detail', ctypes.c_void_p)]

cs.cs_open.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_size_t)]
cs.cs_option.argtypes = [ctypes.c_size_t, ctypes.c_int, ctypes.c_size_t]
cs.cs_disasm.argtypes = [ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64, ctypes.c_size_t, ctypes.POINTER(ctypes.POINTER(CsInsn))]
cs.cs_disasm.restype = ctypes.c_size_t
cs.cs_free.argtypes = [ctypes.POINTER(CsInsn), ctypes.c_size_t]

CS_ARCH_X86, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT, CS_OPT_SKIPDATA, CS_OPT_ON = 3, 1, 2, 5, 3
handles = {}
for mode, flag in ((16, 1 << 1), (32, 1 << 2), (64, 1 << 3)):
    h = ctypes.c_size_t()
    assert cs.cs_open(CS_ARCH_X86, flag, ctypes.byref(h)) == 0
    cs.cs_option(h.value, CS_OPT_SKIPDATA, CS_OPT_ON)
    cs.cs_option(h.value, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT)
    handles[mode] = h.value

def disasm(mode, addr, code, count=1):
    """[(size, mnemonic, op_str)] of up to `count` instructions (0: all) of `code` at `addr`."""
    insn = ctypes.POINTER(CsInsn)()
    n = cs.cs_disasm(handles[mode], code, len(code), addr, count, ctypes.byref(insn))
    out = [(insn[i].size, insn[i].mnemonic.decode(), insn[i].op_str.decode()) for i in range(n)]
    if n:
        cs.cs_free(insn, n)
    return out

if __name__ == '__main__':
  for line in sys.stdin:
      parts = line.split()
      if len(parts) != 3:
          continue
      mode, addr, hexs = int(parts[0]), int(parts[1], 16), parts[2]
      code = bytes.fromhex(hexs)
      insn = ctypes.POINTER(CsInsn)()
      n = cs.cs_disasm(handles[mode], code, len(code), addr, 1, ctypes.byref(insn))
      if n == 0:
          print(json.dumps({'mode': mode, 'addr': addr, 'bytes': hexs, 'size': 0, 'mnemonic': '', 'op_str': ''}))
          continue
      i = insn[0]
      print(json.dumps({'mode': mode, 'addr': addr, 'bytes': hexs, 'size': i.size,
                        'mnemonic': i.mnemonic.decode(), 'op_str': i.op_str.decode()}))
      cs.cs_free(insn, n)
