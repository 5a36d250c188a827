import NodeAgent
print("nodeagent")
