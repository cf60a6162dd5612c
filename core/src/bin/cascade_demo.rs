//! `cascade-demo`: the whole life of a receivable certificate on an in-process ledger.
//!
//! A core enterprise issues 1,000,000.00 CNY to its tier-1 supplier; the certificate is
//! split and passed down three supplier tiers; a tier-3 supplier discounts part of its piece
//! with a bank; at maturity the core enterprise settles and every holder is paid. The demo
//! prints the lineage tree, the financing figures and the clearing list, proves the lineage
//! against the app hash, and checks conservation of value. It exits non-zero if any check fails.

use cascade_core::testkit::{Fixture, STANDARD_PARTICIPANTS};
use cascade_core::tx::TxBody;
use cascade_core::*;
use std::collections::BTreeMap;
use std::process::ExitCode;

fn name_of(fx: &Fixture, a: &Address) -> String {
    STANDARD_PARTICIPANTS
        .iter()
        .map(|(n, _)| *n)
        .find(|n| fx.addr(n) == *a)
        .map_or_else(|| a.to_hex()[..8].to_string(), str::to_string)
}

fn short(id: &Hash32) -> String {
    id.to_hex()[..8].to_string()
}

fn print_tree(
    fx: &Fixture,
    id: &Hash32,
    children: &BTreeMap<Hash32, Vec<Hash32>>,
    pieces: &BTreeMap<Hash32, Piece>,
    depth: usize,
) {
    let p = &pieces[id];
    let status = match (&p.status, &p.frozen) {
        (_, Some(_)) => format!("{} (frozen)", p.status.name()),
        (PieceStatus::Pending { from, .. }, None) => format!("pending from {}", name_of(fx, from)),
        (s, None) => s.name().to_string(),
    };
    println!(
        "  {}{} {:>14} CNY  tier {}  holder {:<7} {}",
        "   ".repeat(depth),
        short(id),
        p.amount.to_string(),
        p.tier,
        name_of(fx, &p.holder),
        status
    );
    for c in children.get(id).into_iter().flatten() {
        print_tree(fx, c, children, pieces, depth + 1);
    }
}

fn run() -> Result<(), String> {
    let mut fx = Fixture::standard();
    let step = |s: &str| println!("\n== {s}");
    let fail = |e: TxError| e.to_string();

    step("1. core enterprise issues 1,000,000.00 CNY to tier-1 supplier t1 (maturity in 90 days), t1 accepts");
    let root = fx.issue("t1", 1_000_000_00, 90);
    fx.submit("t1", TxBody::Accept { piece: root })
        .map_err(fail)?;
    let terms = fx
        .ledger
        .root(&root)
        .map_err(|e| e.to_string())?
        .ok_or("root missing")?
        .terms;
    println!("   certificate {} matures {}", short(&root), terms.maturity);

    step("2. t1 splits: 600,000.00 to t2a, 150,000.00 to t2b, keeps the change; both accept");
    let (t2, _) = fx.transfer("t1", root, &[("t2a", 600_000_00), ("t2b", 150_000_00)]);
    fx.submit("t2a", TxBody::Accept { piece: t2[0] })
        .map_err(fail)?;
    fx.submit("t2b", TxBody::Accept { piece: t2[1] })
        .map_err(fail)?;

    step("3. tier 2 passes on to tier 3: t2a → t3a 400,000.00 and t3b 100,000.00; t2b → t3b 50,000.00");
    let (t3, _) = fx.transfer("t2a", t2[0], &[("t3a", 400_000_00), ("t3b", 100_000_00)]);
    let (t3b2, _) = fx.transfer("t2b", t2[1], &[("t3b", 50_000_00)]);
    for (who, p) in [("t3a", t3[0]), ("t3b", t3[1]), ("t3b", t3b2[0])] {
        fx.submit(who, TxBody::Accept { piece: p }).map_err(fail)?;
    }
    println!("   a rejected move, for contrast: t2a tries to spend the piece it already split:");
    let again = fx.sign(
        "t2a",
        TxBody::Transfer {
            piece: t2[0],
            outputs: vec![tx::Output {
                to: fx.addr("t3a"),
                amount: Amount(1_000_00),
            }],
        },
    );
    match fx.deliver(&again) {
        Err(e) => println!("   rejected as expected: {e}"),
        Ok(_) => return Err("double spend was accepted".into()),
    }
    fx.commit();

    step("4. 30 days later t3a discounts 300,000.00 with the bank at 4.35 % (ACT/360)");
    fx.advance_days(30);
    let bank = fx.addr("bank");
    let r = fx
        .submit(
            "t3a",
            TxBody::RequestFinancing {
                piece: t3[0],
                financier: bank,
                amount: Amount(300_000_00),
                rate: AnnualRate(43_500),
            },
        )
        .map_err(fail)?;
    let locked = r
        .events
        .iter()
        .find_map(|e| {
            if let Event::FinancingRequested { piece, .. } = e {
                Some(*piece)
            } else {
                None
            }
        })
        .ok_or("no request event")?;
    let r = fx
        .submit(
            "bank",
            TxBody::AcceptFinancing {
                piece: locked,
                payment_reference: "CNAPS-2026-0001".into(),
            },
        )
        .map_err(fail)?;
    let quote = r
        .events
        .iter()
        .find_map(|e| {
            if let Event::Financed { quote, .. } = e {
                Some(*quote)
            } else {
                None
            }
        })
        .ok_or("no financed event")?;
    println!(
        "   face {} CNY, rate {}, {} days ({:?})",
        quote.face, quote.rate, quote.days, quote.day_count
    );
    println!(
        "   interest = {} × {} × {} / {} = {} CNY (rounded half-up to the fen)",
        quote.face,
        quote.rate,
        quote.days,
        quote.day_count.basis(),
        quote.interest
    );
    println!(
        "   proceeds paid to t3a now = {} CNY; the bank is paid {} CNY at maturity",
        quote.proceeds, quote.face
    );
    let expected = (u128::from(quote.face.0) * u128::from(quote.rate.0) * u128::from(quote.days)
        + 180_000_000)
        / 360_000_000;
    if u128::from(quote.interest.0) != expected
        || quote.interest.0 + quote.proceeds.0 != quote.face.0
    {
        return Err("financing figures do not add up".into());
    }

    step("5. maturity: the core enterprise settles; every outstanding piece is paid to its holder");
    fx.advance_days(60);
    let r = fx.submit("core", TxBody::Settle { root }).map_err(fail)?;
    let Some(Event::Settled {
        entries,
        total,
        late,
        ..
    }) = r.events.first()
    else {
        return Err("no settlement event".into());
    };
    println!(
        "   clearing list ({}):",
        if *late { "late" } else { "on time" }
    );
    for e in entries {
        println!(
            "     piece {}  pay {:<7} {:>14} CNY{}",
            short(&e.piece),
            name_of(&fx, &e.payee),
            e.amount.to_string(),
            if e.withheld { "  (withheld)" } else { "" }
        );
    }
    println!("     total {:>30} CNY", total.to_string());

    step("6. lineage tree, proven complete against the app hash");
    let committed = fx.ledger.committed().ok_or("nothing committed")?;
    let proof = fx.ledger.prove_lineage(&root).map_err(|e| e.to_string())?;
    let (record, pieces) = proof
        .verify(&committed.app_hash)
        .map_err(|e| e.to_string())?;
    println!(
        "   app hash {} at height {}; {} pieces verified",
        committed.app_hash,
        committed.version,
        pieces.len()
    );
    let pieces: BTreeMap<Hash32, Piece> = pieces.into_iter().collect();
    let mut children: BTreeMap<Hash32, Vec<Hash32>> = BTreeMap::new();
    for (id, p) in &pieces {
        if let Some(parent) = p.parent {
            children.entry(parent).or_default().push(*id);
        }
    }
    print_tree(&fx, &root, &children, &pieces, 0);

    step("7. checks");
    let settled: u64 = pieces
        .values()
        .filter(|p| p.status == PieceStatus::Settled)
        .map(|p| p.amount.0)
        .sum();
    let outstanding = pieces
        .values()
        .filter(|p| p.status.is_outstanding())
        .count();
    let clearing_sum: u64 = entries.iter().map(|e| e.amount.0).sum();
    let line = fx
        .ledger
        .credit_line(&fx.addr("core"), &testkit::cny(), &bank)
        .map_err(|e| e.to_string())?
        .ok_or("no credit line")?;
    let checks = [
        (
            "conservation: settled pieces sum to the face value",
            settled == record.face.0,
        ),
        (
            "clearing list sums to the face value",
            clearing_sum == record.face.0 && *total == record.face,
        ),
        ("no piece left outstanding", outstanding == 0),
        (
            "the bank is paid the financed face",
            entries
                .iter()
                .filter(|e| e.payee == bank)
                .map(|e| e.amount.0)
                .sum::<u64>()
                == quote.face.0,
        ),
        ("credit line restored", line.used == Amount::ZERO),
        ("terms unchanged since issue", record.terms == terms),
    ];
    let mut ok = true;
    for (what, held) in checks {
        println!("   [{}] {what}", if held { "ok" } else { "FAILED" });
        ok &= held;
    }
    let rec = fx
        .ledger
        .obligor_record(&fx.addr("core"))
        .map_err(|e| e.to_string())?;
    println!(
        "   obligor record: {} settled on time, {} late, {} overdue",
        rec.settled_on_time, rec.settled_late, rec.overdue_now
    );
    if ok {
        Ok(())
    } else {
        Err("a check failed".into())
    }
}

fn main() -> ExitCode {
    println!(
        "Cascade demo: splittable receivables from a core enterprise down three supplier tiers"
    );
    match run() {
        Ok(()) => {
            println!("\ndemo finished: all checks passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\ndemo FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
