/// `smartctl -j -a` output for the SMART parser's tests, written after smartctl 7.3's JSON
/// format (json_format_version 1.0; keys as documented in smartctl(8) and printed by
/// `smartctl -j`), trimmed of the sections the parser does not read.
enum HealthSMARTFixtures {
    /// A healthy NVMe SSD.
    static let nvmePassing = #"""
        {
          "json_format_version": [1, 0],
          "smartctl": {
            "version": [7, 3], "svn_revision": "5338", "platform_info": "x86_64-linux-6.1.0-18-amd64",
            "build_info": "(local build)", "argv": ["smartctl", "-j", "-a", "/dev/nvme0n1"], "exit_status": 0
          },
          "local_time": {"time_t": 1718000000, "asctime": "Mon Jun 10 06:13:20 2024 UTC"},
          "device": {"name": "/dev/nvme0n1", "info_name": "/dev/nvme0n1", "type": "nvme", "protocol": "NVMe"},
          "model_name": "SAMSUNG MZQL2960HCJR-00A07",
          "serial_number": "S64FNE0R512345",
          "firmware_version": "GDC5602Q",
          "nvme_pci_vendor": {"id": 5197, "subsystem_id": 5197},
          "nvme_ieee_oui_identifier": 9528,
          "nvme_total_capacity": 960197124096,
          "nvme_unallocated_capacity": 0,
          "nvme_controller_id": 6,
          "nvme_version": {"string": "1.4", "value": 66560},
          "nvme_number_of_namespaces": 32,
          "nvme_namespaces": [
            {"id": 1, "size": {"blocks": 1875385008, "bytes": 960197124096},
             "capacity": {"blocks": 1875385008, "bytes": 960197124096},
             "utilization": {"blocks": 31457280, "bytes": 16106127360},
             "formatted_lba_size": 512, "eui64": {"oui": 9528, "ext_id": 1013416140826}}
          ],
          "user_capacity": {"blocks": 1875385008, "bytes": 960197124096},
          "logical_block_size": 512,
          "smart_support": {"available": true, "enabled": true},
          "smart_status": {"passed": true, "nvme": {"value": 0}},
          "nvme_smart_health_information_log": {
            "critical_warning": 0, "temperature": 34, "available_spare": 100, "available_spare_threshold": 10,
            "percentage_used": 3, "data_units_read": 112418306, "data_units_written": 98716125,
            "host_reads": 1220488394, "host_writes": 1489164422, "controller_busy_time": 1744,
            "power_cycles": 27, "power_on_hours": 9411, "unsafe_shutdowns": 14, "media_errors": 0,
            "num_err_log_entries": 0, "warning_temp_time": 0, "critical_comp_time": 0,
            "temperature_sensors": [34, 41, 47]
          },
          "temperature": {"current": 34},
          "power_cycle_count": 27,
          "power_on_time": {"hours": 9411}
        }
        """#

    /// An NVMe SSD that has run out of spare blocks: critical warning bit 0, media errors, and
    /// smartctl's exit status with bit 3 (disk failing) and bit 6 (error log has entries).
    static let nvmeFailing = #"""
        {
          "json_format_version": [1, 0],
          "smartctl": {
            "version": [7, 3], "svn_revision": "5338", "platform_info": "x86_64-linux-6.1.0-18-amd64",
            "build_info": "(local build)", "argv": ["smartctl", "-j", "-a", "/dev/nvme1n1"], "exit_status": 72
          },
          "device": {"name": "/dev/nvme1n1", "info_name": "/dev/nvme1n1", "type": "nvme", "protocol": "NVMe"},
          "model_name": "INTEL SSDPE2KX010T8",
          "serial_number": "PHLJ9123004Z1P0FGN",
          "firmware_version": "VDV10184",
          "nvme_total_capacity": 1000204886016,
          "user_capacity": {"blocks": 1953525168, "bytes": 1000204886016},
          "logical_block_size": 512,
          "smart_support": {"available": true, "enabled": true},
          "smart_status": {"passed": false, "nvme": {"value": 1, "spare_below_threshold": true}},
          "nvme_smart_health_information_log": {
            "critical_warning": 1, "temperature": 39, "available_spare": 4, "available_spare_threshold": 10,
            "percentage_used": 87, "data_units_read": 4012223119, "data_units_written": 5120449881,
            "host_reads": 28012388119, "host_writes": 39201444718, "controller_busy_time": 98112,
            "power_cycles": 61, "power_on_hours": 38802, "unsafe_shutdowns": 40, "media_errors": 12,
            "num_err_log_entries": 311, "warning_temp_time": 0, "critical_comp_time": 0
          },
          "temperature": {"current": 39},
          "power_cycle_count": 61,
          "power_on_time": {"hours": 38802}
        }
        """#

    /// A healthy SATA SSD (behind a SAT layer), with the SSD device-statistics page that
    /// carries "Percentage Used Endurance Indicator".
    static let sataPassing = #"""
        {
          "json_format_version": [1, 0],
          "smartctl": {
            "version": [7, 3], "svn_revision": "5338", "platform_info": "x86_64-linux-6.1.0-18-amd64",
            "build_info": "(local build)", "argv": ["smartctl", "-j", "-a", "/dev/sda"], "exit_status": 0
          },
          "device": {"name": "/dev/sda", "info_name": "/dev/sda [SAT]", "type": "sat", "protocol": "ATA"},
          "model_family": "Samsung based SSDs",
          "model_name": "Samsung SSD 870 EVO 1TB",
          "serial_number": "S6PTNM0T612345X",
          "wwn": {"naa": 5, "oui": 9528, "id": 61213911380},
          "firmware_version": "SVT02B6Q",
          "user_capacity": {"blocks": 1953525168, "bytes": 1000204886016},
          "logical_block_size": 512,
          "physical_block_size": 512,
          "rotation_rate": 0,
          "form_factor": {"ata_value": 3, "name": "2.5 inches"},
          "in_smartctl_database": true,
          "ata_version": {"string": "ACS-4 T13/BSR INCITS 529 revision 5", "major_value": 4092, "minor_value": 94},
          "sata_version": {"string": "SATA 3.3", "value": 511},
          "smart_support": {"available": true, "enabled": true},
          "smart_status": {"passed": true},
          "ata_smart_data": {
            "offline_data_collection": {"status": {"value": 0, "string": "was never started"}, "completion_seconds": 0},
            "self_test": {"status": {"value": 0, "string": "completed without error", "passed": true},
                          "polling_minutes": {"short": 2, "extended": 85}}
          },
          "ata_smart_attributes": {
            "revision": 1,
            "table": [
              {"id": 5, "name": "Reallocated_Sector_Ct", "value": 100, "worst": 100, "thresh": 10, "when_failed": "",
               "flags": {"value": 51, "string": "PO--CK ", "prefailure": true, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": true},
               "raw": {"value": 0, "string": "0"}},
              {"id": 9, "name": "Power_On_Hours", "value": 97, "worst": 97, "thresh": 0, "when_failed": "",
               "flags": {"value": 50, "string": "-O--CK ", "prefailure": false, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": true},
               "raw": {"value": 12011, "string": "12011"}},
              {"id": 177, "name": "Wear_Leveling_Count", "value": 96, "worst": 96, "thresh": 0, "when_failed": "",
               "flags": {"value": 19, "string": "PO--C- ", "prefailure": true, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": false},
               "raw": {"value": 41, "string": "41"}},
              {"id": 187, "name": "Reported_Uncorrect", "value": 100, "worst": 100, "thresh": 0, "when_failed": "",
               "flags": {"value": 50, "string": "-O--CK ", "prefailure": false, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": true},
               "raw": {"value": 0, "string": "0"}},
              {"id": 190, "name": "Airflow_Temperature_Cel", "value": 69, "worst": 49, "thresh": 0, "when_failed": "",
               "flags": {"value": 50, "string": "-O--CK ", "prefailure": false, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": true},
               "raw": {"value": 31, "string": "31"}},
              {"id": 197, "name": "Current_Pending_Sector", "value": 100, "worst": 100, "thresh": 0, "when_failed": "",
               "flags": {"value": 50, "string": "-O--CK ", "prefailure": false, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": true},
               "raw": {"value": 0, "string": "0"}},
              {"id": 198, "name": "Offline_Uncorrectable", "value": 100, "worst": 100, "thresh": 0, "when_failed": "",
               "flags": {"value": 48, "string": "----CK ", "prefailure": false, "updated_online": false, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": true},
               "raw": {"value": 0, "string": "0"}},
              {"id": 241, "name": "Total_LBAs_Written", "value": 99, "worst": 99, "thresh": 0, "when_failed": "",
               "flags": {"value": 50, "string": "-O--CK ", "prefailure": false, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": true},
               "raw": {"value": 88312004871, "string": "88312004871"}}
            ]
          },
          "power_on_time": {"hours": 12011},
          "power_cycle_count": 88,
          "temperature": {"current": 31},
          "ata_device_statistics": {
            "pages": [
              {"number": 1, "name": "General Statistics", "revision": 1,
               "table": [{"offset": 8, "name": "Lifetime Power-On Resets", "size": 4, "value": 88,
                          "flags": {"value": 192, "string": "V---", "valid": true, "normalized": false,
                                    "supports_dsn": false, "monitored_condition_met": false}}]},
              {"number": 7, "name": "Solid State Device Statistics", "revision": 1,
               "table": [{"offset": 8, "name": "Percentage Used Endurance Indicator", "size": 1, "value": 4,
                          "flags": {"value": 224, "string": "VN--", "valid": true, "normalized": true,
                                    "supports_dsn": false, "monitored_condition_met": false}}]}
            ]
          },
          "ata_smart_error_log": {"summary": {"revision": 1, "count": 0}},
          "ata_smart_self_test_log": {"standard": {"revision": 1, "count": 0}}
        }
        """#

    /// A failing SATA hard disk: overall assessment FAILED, reallocated, pending and offline
    /// uncorrectable sectors, and attribute 5 at its threshold now.
    static let sataFailing = #"""
        {
          "json_format_version": [1, 0],
          "smartctl": {
            "version": [7, 3], "svn_revision": "5338", "platform_info": "x86_64-linux-6.1.0-18-amd64",
            "build_info": "(local build)", "argv": ["smartctl", "-j", "-a", "/dev/sdb"],
            "messages": [{"string": "Warning! SMART Attribute Data Structure error: invalid SMART checksum.", "severity": "warning"}],
            "exit_status": 216
          },
          "device": {"name": "/dev/sdb", "info_name": "/dev/sdb [SAT]", "type": "sat", "protocol": "ATA"},
          "model_family": "Seagate Exos 7E8",
          "model_name": "ST4000NM0035-1V4107",
          "serial_number": "ZC1ABCDE",
          "firmware_version": "TN03",
          "user_capacity": {"blocks": 7814037168, "bytes": 4000787030016},
          "logical_block_size": 512,
          "physical_block_size": 4096,
          "rotation_rate": 7200,
          "smart_support": {"available": true, "enabled": true},
          "smart_status": {"passed": false},
          "ata_smart_attributes": {
            "revision": 10,
            "table": [
              {"id": 1, "name": "Raw_Read_Error_Rate", "value": 62, "worst": 55, "thresh": 44, "when_failed": "",
               "flags": {"value": 15, "string": "POSR-- ", "prefailure": true, "updated_online": true, "performance": true,
                         "error_rate": true, "event_count": false, "auto_keep": false},
               "raw": {"value": 150223187, "string": "150223187"}},
              {"id": 5, "name": "Reallocated_Sector_Ct", "value": 9, "worst": 9, "thresh": 10, "when_failed": "now",
               "flags": {"value": 51, "string": "PO--CK ", "prefailure": true, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": true},
               "raw": {"value": 3912, "string": "3912"}},
              {"id": 9, "name": "Power_On_Hours", "value": 52, "worst": 52, "thresh": 0, "when_failed": "",
               "flags": {"value": 50, "string": "-O--CK ", "prefailure": false, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": true},
               "raw": {"value": 42170, "string": "42170"}},
              {"id": 187, "name": "Reported_Uncorrect", "value": 1, "worst": 1, "thresh": 0, "when_failed": "",
               "flags": {"value": 50, "string": "-O--CK ", "prefailure": false, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": true},
               "raw": {"value": 211, "string": "211"}},
              {"id": 194, "name": "Temperature_Celsius", "value": 38, "worst": 51, "thresh": 0, "when_failed": "",
               "flags": {"value": 34, "string": "-O---K ", "prefailure": false, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": false, "auto_keep": true},
               "raw": {"value": 107374182438, "string": "38 (0 19 0 0 0)"}},
              {"id": 197, "name": "Current_Pending_Sector", "value": 100, "worst": 99, "thresh": 0, "when_failed": "",
               "flags": {"value": 18, "string": "-O--C- ", "prefailure": false, "updated_online": true, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": false},
               "raw": {"value": 48, "string": "48"}},
              {"id": 198, "name": "Offline_Uncorrectable", "value": 100, "worst": 99, "thresh": 0, "when_failed": "",
               "flags": {"value": 16, "string": "----C- ", "prefailure": false, "updated_online": false, "performance": false,
                         "error_rate": false, "event_count": true, "auto_keep": false},
               "raw": {"value": 48, "string": "48"}}
            ]
          },
          "power_on_time": {"hours": 42170},
          "power_cycle_count": 19,
          "temperature": {"current": 38},
          "ata_smart_error_log": {"summary": {"revision": 1, "count": 211}},
          "ata_smart_self_test_log": {"standard": {"revision": 1, "count": 3, "error_count_total": 1}}
        }
        """#

    /// What smartctl 7.3 really printed for this machine's virtio disk (no SMART: skipped).
    static let virtioDisk = #"""
        {
          "json_format_version": [1, 0],
          "smartctl": {
            "version": [7, 3], "svn_revision": "5338", "platform_info": "x86_64-linux-6.18.44-fc-v509",
            "build_info": "(local build)", "argv": ["smartctl", "-j", "-a", "/dev/vda"],
            "messages": [{"string": "/dev/vda: Unable to detect device type", "severity": "error"}],
            "exit_status": 1
          },
          "local_time": {"time_t": 1795327315, "asctime": "Sun Nov 22 06:01:55 2026 UTC"}
        }
        """#
}
