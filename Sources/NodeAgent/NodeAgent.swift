import Libvirt
