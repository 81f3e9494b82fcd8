//! Tests of the Nexmark source against reference values and its splitting, snapshot and
//! restore contracts.

use super::columns::TableColumns;
use super::fields::{ChannelTable, FieldGenerator};
use super::generator::LogicalGenerator;
use super::model::{generator_range, EventKind, EventModel};
use super::*;
use crate::testkit::{drain, rows_as_strings, source_ctx, source_ctx_with_clock};
use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int32Type, Int64Type, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use freshet_core::{CheckpointId, ManualClock};
use freshet_dataflow::Source;
use std::sync::Arc;

/// Printed by a Java program that follows Beam's generator (java.util.Random seeded with the
/// event id, Beam's draw order) plus the Flink fork's channel coin and pick before the extra;
/// `hotN` / `chN` stand for the hot channel N / channel N. Fields: kind|event id|record fields.
const REFERENCE_G1: &str = r#"P|0|1000|Peter Jones|nhd@xcat.com|7241 7320 9143 4888|Portland|WY|1436918400000|WN_HS_bnpkkiwhwana_L^`KZjdgsid`K]MLU[aaOH`ztxbulvlxtkn_ZZ^T\mqgdjzvlkymsmfrhkfVYSXK_OY[aVYVKa\X^]RO]OYguwiduWJNQLLaMLHOTaHY_J[YKWaUOSJN_VHWXZ]`SgbnjqeVVQ\[[
A|1|1000|wkx mgee|eszpqxtdxrvwmmywkmogoahf|28873|29448|1436918400000|1436918400011|1000|13|zcurskufssowmihzpmZHWQM^fnleramznyyqimoheaRSWV^OjtfjhgXRa`[PVHUOMTbrqqzjyztfwnhstxbu]\V_XPldnjuo^^PJQMnwhlsenoniir^aNZI__IP[QLYPROSNW]HYP\L]W^PTkfnbtwuqucwreikflftlgtebaurwml^RMRIPqevmpqsnxmcblfvpfeajfopsHS^U[Jzxwajo_W`RXa[XWI[`VXZOR^lghgmwHITMP[dbwdgtPQJYHLjnubcsjgszqvyzeoeqjcbaazmrqamxoxgrjh`L`]_Y^OQM]ItjxtuwZJS[RTmrkpofsnuysxuvwbuzrqkrkkqpiz
A|2|1001|z ck w|cwlachrnkfzkygsu edjytotggvasbt z yjjszhhsqtrgzblkaolzkhlldqedvgj fdbvswemnzshmwipqrzqfkd|25626290|28805847|1436918400000|1436918400202|1000|12|jzlkehMZPLIIwtopffS\KHLRhdduqtifpeko`KO`ZQK[[_I`H[aTINQKQJMPTYYLOYitqbesrjqlgtpwxmaisefjioILP`OSWQSKaY_LZV]MSPTILLgyacoodbfiyyWWK_NKetfdja`HUNP^uwfvxlyvywsaL^KN\[myznhx^O_JRShcfzvf]O`NJ\ctudjuorfgrhhpmxquKXXQLPbirsklX[aY\YUJ[WR\L_SXW_YHM\HPwvmlopNNVJVWlmtrikTIUaUaZO]^XTIYK`R]iobqufV`PSJ_wfivocSWSaTUaWU_[^kohfsnQSTVVaI
A|3|1002|gxycmhtobprpd|ybjpocsabdbtiqzhbupw ihlxbsqjkmp lbupz bcqnghg fojwfqs|267|422398|1436918400000|1436918400001|1000|10|JKSLMTmulfbwHKXUXSztthwgwcilixpeyzjs^`RK^RutzkvkSILV]Srsjtomlebedl_HQ_\S]I[`H]ywaawvTWIPI\[aKRR\_H\VONnznhbyUIaP^V\NSJ\XznlkqxadbnbdXKZPTVdpaxvmeuptpyrgetseedsfgaKT\JPYdxwjsgpdvnmxampjcr]\`^KYfxuiihlzdqdtglvgflZWSXVXeypjmxJUT_ONerzgyecnattpwjdmszkkwcucgmxpov`\[WUYUTaWNQNIM^SWWVXK_IuskbngavgqooxvfbobmkwsxrtmwtyycvbwjpVHPQIT]LNXSLQL^]KLRPU`LVjkyjlrhlcdctlrnulpSS[aWTQ^QTMVSPVSKOpdhxcwOK[YMLiasswo]K_WURbnvmp
B|4|1000|1001|32530001|hot0|1436918400000|sbolvyqwgticfdrwdyiyofziYMU\Z`UaTQO][NX\RM]WPYTOuwogvszlx
B|5|1000|1009|468715|hot1|1436918400000|euyfegsyumoyP[P_Z\XIMVVVxctqkwvurozuRWZ`MYaYVW][cjupgbckseelPM`aM_OOK[`NQ
B|6|1000|1001|300435|hot3|1436918400000|mwyooulzilesQV_`]aPRWLaUtndhbtXXTTUXVJa_[_YXVJHVmidxhturdym
B|7|1000|1001|3126206|ch6254|1436918400000|KUUY`RJaVNU`^QIWNHgdvnfxZQ]H_PbustqrpqasinNX`Q[_YKKNP\woaecePJPO[X
"#;

/// As above, generator 5 of 8 over 1,000,000 events, its events 1949..=1959.
const REFERENCE_G8_K5: &str = r#"B|626949|38555|13501|3473|ch1889|1436918401559|uxwjqafclagdlrwayhrrwuhrUZILOKrsmamrHZHTXUNLO]T_PROHKW]WLNNL^_KYKNXPM]
P|626950|13539|Sarah Smith|skn@w ol.com|2959 4118 0272 0613|Redmond|WY|1436918401560|VTX`W\NRWSY[LUSWSN_NMVaSqveuxjtxcpsxNT]L]LH\]YOIcsorkhMOSWPPeewurfdtpjcoXZIOSM[[XYWZPaU[LZNVHY\]cqvyzhhlbinghqxktcSVVYJKprvjncuqfwzcQHO^INXN^QVU
A|626951|38617|htujze ldurxqsrkl|s lmtdhvvtqqoqnriwywnwtteql kshgkab|846508|1090439|1436918401560|1436918402727|12951|14|RRHJ]SJ_M]KRvygtlfuuknzdncrsjzhwjtfs^`TNZ`nvggcongvjokstpfsmbjdsjszdtvcplkochpnwnoeeteplukxluynu^TM^IYJNZV`Slbqpbg]HZaU`US]I`H]^SJ_Mrvstdx`VJS_IMa_Z]SI`II_MQ``M]I\KZKKTakkzxy_Q[IO`L]R]JaY]I]P]``OLaTaN^L_OaSW\_\hlwwhsS[R]N]JL^MH^aplwbvqpxqjcvxvltqrohfaoKSQJX]zmeukoaLK^`^ZIKVUSRVMKK__YXYKRiwxumdzjioclVLZ\WQnapvgtPU_TTOQJV]PZfubbpbM\JMWaJN[S[TmlftkqIRIN_WMW\aJ[URP`I_oekqvbkaambrN_\[`THOO`SOzxiqud
A|626952|38618|gfkitym yhcfzo|jabnxnvooue vqwuvcdehonljs citckkzhfinpcugdc qei sgkdu|912995|4957852|1436918401561|1436918402788|12852|14|VJVTIHesdpkqN^SZ[Pfvfgga^K^KRNkwsayzhujltqwurkleblozfpSUYUHTVKYNT[aYIZP\XZJYJXaLWNHVUYRXTLH_HVWP`TN`UXpewmkdNXL\HLUZQT^OO]_XZLUYLQQINOO\[Mccpbke\_YS`HfncxspWHV[KNpkytvuXHN\JLqokjjuvpubbavlelhlfhnocnSRKUHTjdxfll^VZa\H[MX`YHQX_I`_fbfelmY^HJXTZ[^ZTJuwtqjkrrrgiaQP\JW^[]ZSKT^WN\XNJZLOU_PJT`YOJOVJWNfkiyliNONPM`xlgvghKVV^Z`zahiojtobmtlhwewsnSUL[ZKO^aN_Uwtzedw^SY\NHeakknetniywlIJLU[]kicyefwyyndxRR
A|626953|38619|atcdh|wmsa tpzpfjgdvpbslgleywyraksp d xhvtbitmtnmyofkgxw gtgajjyrkdejuxwnbairfjmqwh  q xrhn mzoxvqr|58484|2916415|1436918401562|1436918403470|13492|13|kbjmyqOKQZaOKRSYXYqsdxbltgjixraZH\WSrsstdjTZI\JPKVWUKQ]PH]ZVycnwcnY^MWHayosxxcyxuerkYWKNXIfklprdSLUKOTdrobzrschkqvQ^SPJVVPL][QHZYJYSPXRWPWWP^W`_ufnjbuHLKJKaT_`]^]TZXL_Q_LYVaY\\KVKRJ[VQY\TZXIXQkghyrqXJKa^IknkjcmMRJUTOVIQaLaxfglxy_N`OR^giaavzzkiumo]KW\^^aefzyqa[[X]_bmclrsX]\QKXosxgzonrorf
B|626954|38611|13501|223|hot0|1436918401563|S_JMaNsxoqqdmmqsrtqnoodhyvhlke]PJKVQWYR[Q_jxsvzvROLNZU[\KQZWWX^TXLwywvgfU`Q
B|626955|38553|12686|5039|hot0|1436918401564|etsgbeTORRSMpjgizwRIJIIPwwdxczLY\HKOpsseaxULITOTpxodryOQWP
B|626956|38537|13501|15372285|ch8785|1436918401564|^TP\`PU^SQJNledefhRWYJL`Y`^RM]mvbtmgKWZS]KRXWNI_bqlpffN^RZaK_`LUW]nwar
B|626957|38531|13339|1710285|hot1|1436918401565|HZWaTNTa^]`ZQSQ^aUbcdsiwXSY]V`pmokblnjbhovenivudMIR]SWWY_PJ\tmsrnrMNaQXHeltuiugia
B|626958|38542|13501|3746|hot0|1436918401566|spkmuypfedhfTXKKMTT_OWTZrnifynMYR^]``W`^PRJJL_U_wvrdbikmmmbhSU[]W`xndhqp
B|626959|38595|13501|240|ch8842|1436918401567|gnczpcIIP[YMkjjmlvS[aPPPetcvorROHa_XVWPLJ\fvpxawysojqgPYSWUZLNTYJ_NNQXWHqnoqt
"#;

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("ascii")
}

/// Formats event `c` of generator `k` as the reference program does.
fn reference_line(fields: &mut FieldGenerator, model: &EventModel, first_id: i64, c: u64) -> String {
    let number = model.adjusted_number(model.event_number(c));
    let id = first_id + number;
    let ts = model.timestamp(number);
    let slot = model.slot(id);
    match model.kind(slot) {
        EventKind::Person => {
            let p = fields.person(slot, ts);
            format!(
                "P|{id}|{}|{}|{}|{}|{}|{}|{}|{}",
                p.id,
                p.name,
                p.email_address,
                p.credit_card,
                p.city,
                p.state,
                p.date_time,
                text(p.extra)
            )
        }
        EventKind::Auction => {
            let a = fields.auction(slot, number, ts);
            format!(
                "A|{id}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
                a.id,
                a.item_name,
                a.description,
                a.initial_bid,
                a.reserve,
                a.date_time,
                a.expires,
                a.seller,
                a.category,
                text(a.extra)
            )
        }
        EventKind::Bid => {
            let b = fields.bid(slot, ts);
            let channel = match b.channel {
                "Google" => "hot0".to_string(),
                "Facebook" => "hot1".to_string(),
                "Baidu" => "hot2".to_string(),
                "Apple" => "hot3".to_string(),
                other => format!("ch{}", other.trim_start_matches("channel-")),
            };
            format!(
                "B|{id}|{}|{}|{}|{channel}|{}|{}",
                b.auction,
                b.bidder,
                b.price,
                b.date_time,
                text(b.extra)
            )
        }
    }
}

fn config(events: u64, generators: u32) -> NexmarkConfig {
    NexmarkConfig {
        events: Some(events),
        generators,
        ..NexmarkConfig::default()
    }
}

#[test]
fn matches_beam_reference_values() {
    let cfg = config(1000, 1);
    let mut fields = FieldGenerator::new(&cfg, Arc::new(ChannelTable::new(0)));
    let model = EventModel::new(&cfg);
    for (c, expected) in REFERENCE_G1.lines().enumerate() {
        assert_eq!(reference_line(&mut fields, &model, 0, c as u64), expected, "event {c}");
    }
    let cfg = config(1_000_000, 8);
    let mut fields = FieldGenerator::new(&cfg, Arc::new(ChannelTable::new(0)));
    let model = EventModel::new(&cfg);
    let first = generator_range(&cfg, 5).first_event_id;
    assert_eq!(first, 625_000);
    for (i, expected) in REFERENCE_G8_K5.lines().enumerate() {
        assert_eq!(reference_line(&mut fields, &model, first, 1949 + i as u64), expected);
    }
}

#[test]
fn seed_changes_values_but_not_ids_kinds_or_times() {
    let base = config(1000, 1);
    let seeded = NexmarkConfig {
        seed: 99,
        ..base.clone()
    };
    let mut a = FieldGenerator::new(&base, Arc::new(ChannelTable::new(0)));
    let mut b = FieldGenerator::new(&seeded, Arc::new(ChannelTable::new(99)));
    let s = EventModel::new(&base).slot(50);
    let (pa, pb) = (a.person(s, 7).id, b.person(s, 7).id);
    assert_eq!(pa, pb);
    assert_ne!(
        a.person(s, 7).name.to_string() + text(a.person(s, 7).extra),
        b.person(s, 7).name.to_string() + text(b.person(s, 7).extra)
    );
}

fn run(cfg: &NexmarkConfig, batch: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let r = generate(cfg, batch, |b| {
        out.push(b);
        Ok(())
    });
    assert!(r.is_ok(), "{r:?}");
    out
}

#[test]
fn kinds_and_dense_ids_in_the_all_table() {
    let cfg = NexmarkConfig {
        table: NexmarkTable::All,
        ..config(5_000, 1)
    };
    let batches = run(&cfg, 700);
    let (mut persons, mut auctions) = (Vec::new(), Vec::new());
    let mut index = 0usize;
    for b in &batches {
        let kinds = b.column(0).as_primitive::<Int32Type>();
        let person = b.column(1).as_struct();
        let auction = b.column(2).as_struct();
        let bid = b.column(3).as_struct();
        let dt = b.column(4).as_primitive::<TimestampMillisecondType>();
        for r in 0..b.num_rows() {
            let expect = match index % 50 {
                0 => 0,
                1..=3 => 1,
                _ => 2,
            };
            assert_eq!(kinds.value(r), expect, "event {index}");
            assert_eq!(person.is_valid(r), expect == 0);
            assert_eq!(auction.is_valid(r), expect == 1);
            assert_eq!(bid.is_valid(r), expect == 2);
            if expect == 0 {
                persons.push(person.column(0).as_primitive::<Int64Type>().value(r));
                assert_eq!(
                    person.column(6).as_primitive::<TimestampMillisecondType>().value(r),
                    dt.value(r)
                );
            } else if expect == 1 {
                auctions.push(auction.column(0).as_primitive::<Int64Type>().value(r));
                let cat = auction.column(8).as_primitive::<Int64Type>().value(r);
                assert!((10..15).contains(&cat));
                let (ts, exp) = (
                    auction.column(5).as_primitive::<TimestampMillisecondType>().value(r),
                    auction.column(6).as_primitive::<TimestampMillisecondType>().value(r),
                );
                assert!(exp > ts);
            }
            // One generator at 10k/s: 100 µs apart.
            assert_eq!(dt.value(r), BEAM_BASE_TIME_MS + index as i64 / 10);
            index += 1;
        }
    }
    assert_eq!(index, 5_000);
    assert_eq!(persons, (1000..1100).collect::<Vec<i64>>());
    assert_eq!(auctions, (1000..1300).collect::<Vec<i64>>());
}

#[test]
fn bid_distributions() {
    let cfg = config(460_000, 8);
    let batches = run(&cfg, 8192);
    let (mut n, mut hot_auction, mut hot_bidder) = (0usize, 0usize, 0usize);
    let mut bands = [0usize; 3];
    let mut hot_channel = 0usize;
    for b in &batches {
        let auction = b.column(0).as_primitive::<Int64Type>();
        let bidder = b.column(1).as_primitive::<Int64Type>();
        let price = b.column(2).as_primitive::<Int64Type>();
        let channel = b.column(3).as_string::<i32>();
        let url = b.column(4).as_string::<i32>();
        let extra = b.column(6).as_string::<i32>();
        for r in 0..b.num_rows() {
            n += 1;
            hot_auction += ((auction.value(r) - 1000) % 100 == 0) as usize;
            hot_bidder += ((bidder.value(r) - 1000) % 100 == 1) as usize;
            let p = price.value(r);
            assert!((100..=100_000_000).contains(&p));
            bands[if p < 10_000 {
                0
            } else if p < 1_000_000 {
                1
            } else {
                2
            }] += 1;
            hot_channel += !channel.value(r).starts_with("channel-") as usize;
            assert!(url.value(r).starts_with("https://www.nexmark.com/"));
            assert!((54..=81).contains(&extra.value(r).len()));
        }
    }
    assert_eq!(n, 460_000 / 50 * 46);
    let frac = |x: usize| x as f64 / n as f64;
    // Hot plus the rare non-hot draw that lands on a block start.
    assert!((frac(hot_auction) - 0.5).abs() < 0.02, "{}", frac(hot_auction));
    assert!((frac(hot_bidder) - 0.75).abs() < 0.02, "{}", frac(hot_bidder));
    assert!((frac(hot_channel) - 0.5).abs() < 0.01);
    for band in bands {
        assert!((frac(band) - 1.0 / 3.0).abs() < 0.01, "{bands:?}");
    }
}

#[test]
fn hot_sellers() {
    let cfg = NexmarkConfig {
        table: NexmarkTable::Auction,
        ..config(500_000, 8)
    };
    let batches = run(&cfg, 4096);
    let (mut n, mut hot) = (0usize, 0usize);
    for b in &batches {
        let seller = b.column(7).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            n += 1;
            hot += ((seller.value(r) - 1000) % 100 == 0) as usize;
        }
    }
    assert_eq!(n, 30_000);
    assert!((hot as f64 / n as f64 - 0.75).abs() < 0.03);
}

#[test]
fn bidder_offset_quirk_shifts_bidders() {
    let plain = run(&config(2_000, 1), 4096);
    let quirk = run(
        &NexmarkConfig {
            bidder_offset_quirk: true,
            ..config(2_000, 1)
        },
        4096,
    );
    let a = plain[0].column(1).as_primitive::<Int64Type>();
    let b = quirk[0].column(1).as_primitive::<Int64Type>();
    assert_eq!(a.len(), b.len());
    for i in 0..a.len() {
        assert_eq!(a.value(i) + 1000, b.value(i));
    }
}

#[test]
fn deterministic() {
    for table in [NexmarkTable::Bid, NexmarkTable::All] {
        let cfg = NexmarkConfig {
            table,
            ..config(20_000, 4)
        };
        assert_eq!(run(&cfg, 1000), run(&cfg, 1000));
    }
}

/// Drains subtask `i` of `p` (optionally restored) fully; returns its rows.
fn subtask_rows(cfg: &NexmarkConfig, i: u32, p: u32, restored: Vec<serde_json::Value>) -> Vec<String> {
    let mut src = NexmarkSource::new(cfg.clone()).expect("config");
    let splits = src.open(&mut source_ctx(i, p, restored, 333)).expect("open");
    let drained = drain(&mut src, usize::MAX, 1).expect("drain");
    assert!(drained.finished);
    let mut finished = drained.finished_splits.clone();
    finished.sort_unstable();
    assert_eq!(finished, splits);
    drained.batches.iter().flat_map(|(_, b)| rows_as_strings(b)).collect()
}

#[test]
fn output_does_not_depend_on_parallelism() {
    for table in [NexmarkTable::Bid, NexmarkTable::All] {
        let cfg = NexmarkConfig {
            table,
            ..config(10_007, 8)
        };
        let mut expected: Vec<String> = run(&cfg, 500).iter().flat_map(rows_as_strings).collect();
        expected.sort();
        for p in 1..=3 {
            let mut got: Vec<String> = (0..p).flat_map(|i| subtask_rows(&cfg, i, p, Vec::new())).collect();
            got.sort();
            assert_eq!(got.len(), expected.len(), "parallelism {p}");
            assert!(got == expected, "parallelism {p}");
        }
    }
}

#[test]
fn restore_resumes_exactly_even_into_another_parallelism() {
    let cfg = config(30_011, 8);
    let mut expected: Vec<String> = run(&cfg, 500).iter().flat_map(rows_as_strings).collect();
    expected.sort();
    for new_p in [2u32, 3, 1] {
        // Two subtasks read part of the stream, then snapshot.
        let mut before = Vec::new();
        let mut items = Vec::new();
        for i in 0..2 {
            let mut src = NexmarkSource::new(cfg.clone()).expect("config");
            src.open(&mut source_ctx(i, 2, Vec::new(), 250)).expect("open");
            let d = drain(&mut src, 5 + i as usize * 3, 1).expect("drain");
            assert!(!d.finished);
            before.extend(d.batches.iter().flat_map(|(_, b)| rows_as_strings(b)));
            let snap = src.snapshot(CheckpointId(1)).expect("snapshot");
            assert_eq!(snap.len(), 4);
            items.extend(snap);
        }
        // The engine deals the items round-robin over the new subtasks.
        let mut after = Vec::new();
        for i in 0..new_p {
            let mine: Vec<_> = items.iter().skip(i as usize).step_by(new_p as usize).cloned().collect();
            after.extend(subtask_rows(&cfg, i, new_p, mine));
        }
        let mut all = before;
        all.extend(after);
        all.sort();
        assert_eq!(all.len(), expected.len(), "into parallelism {new_p}");
        assert!(all == expected, "into parallelism {new_p}");
    }
}

#[test]
fn snapshot_items_and_bad_restores() {
    let cfg = config(1_000, 4);
    let mut src = NexmarkSource::new(cfg.clone()).expect("config");
    assert_eq!(
        src.open(&mut source_ctx(1, 2, Vec::new(), 100)).expect("open"),
        vec![1, 3]
    );
    let items = src.snapshot(CheckpointId(1)).expect("snapshot");
    assert_eq!(items[0], serde_json::json!({"generator": 1, "of": 4, "emitted": 0}));
    let other = NexmarkConfig {
        generators: 5,
        ..cfg.clone()
    };
    let mut src = NexmarkSource::new(other).expect("config");
    let err = src
        .open(&mut source_ctx(0, 1, items, 100))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("generators"), "{err}");
    let mut src = NexmarkSource::new(cfg).expect("config");
    assert!(src
        .open(&mut source_ctx(0, 1, vec![serde_json::json!({"x": 1})], 100))
        .is_err());
}

#[test]
fn throttle_caps_events_per_wall_second() {
    let cfg = NexmarkConfig {
        max_events_per_second: Some(10_000),
        ..config(1_000_000, 8)
    };
    let clock = ManualClock::new(1_000);
    let mut src = NexmarkSource::new(cfg).expect("config");
    src.open(&mut source_ctx_with_clock(0, 1, Arc::new(clock.clone()), 8192))
        .expect("open");
    let count = |src: &mut NexmarkSource| -> u64 {
        let items = src.snapshot(CheckpointId(1)).expect("snapshot");
        items.iter().map(|i| i["emitted"].as_u64().unwrap_or(0)).sum()
    };
    let d = drain(&mut src, 1000, 1).expect("drain");
    assert!(!d.finished);
    assert_eq!(count(&mut src), 50, "the initial burst is 5 ms worth");
    clock.advance(1_000);
    drain(&mut src, 1000, 1).expect("drain");
    assert_eq!(count(&mut src), 10_050);
}

#[test]
fn table_batches_respect_batch_size_and_skip_other_kinds() {
    let cfg = NexmarkConfig {
        table: NexmarkTable::Person,
        ..config(100_000, 2)
    };
    let batches = run(&cfg, 300);
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2_000);
    assert!(batches.iter().all(|b| b.num_rows() <= 300));
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1000..3000).collect::<Vec<_>>());
    let mut columns = TableColumns::new(NexmarkTable::Bid, 10);
    let mut fields = FieldGenerator::new(&cfg, Arc::new(ChannelTable::new(0)));
    let mut g = LogicalGenerator::new(&cfg, 0, 0);
    let filled = g.fill(&mut fields, &mut columns, 10, u64::MAX);
    assert_eq!((filled.rows, filled.events), (10, 14));
}
